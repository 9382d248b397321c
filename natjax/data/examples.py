"""Images of a random-access source of examples (a tfds data source, ArrayRecord records):
`DecodedImages` of each example's image, held in memory where they fit."""

import numpy as np
from PIL import Image

from natjax.data.decode import DecodedImages
from natjax.data.folder import decode_image, fit_image

_CHUNK = 4096  # Images decoded at a time when a whole split is decoded into memory.


class _FittedImage:
    """`source[i]`'s image at `size` (a class, not a closure: it goes to grain's workers)."""

    def __init__(self, source, size: int):
        self._source, self._size = source, size

    def __call__(self, i: int) -> np.ndarray:
        return _fit(self._source[i]["image"], self._size)


def example_images(source, image_size: int, workers: int = 1, in_memory_bytes: float = 0):
    """uint8 `[n, S, S, 3]` of `source[i]["image"]`: a numpy array, decoded at once, where
    they take at most `in_memory_bytes`, else `DecodedImages` decoded when read. Either way an
    image that cannot be decoded reads as black with a counted warning, its id in place."""
    images = DecodedImages(_FittedImage(source, image_size), len(source), image_size, workers)
    if not len(images) or np.prod(images.shape) > in_memory_bytes:
        return images
    return np.concatenate([images[i : i + _CHUNK] for i in range(0, len(images), _CHUNK)])


def _fit(image, size: int) -> np.ndarray:
    """An example's image, decoded by tfds (an array) or still encoded (bytes), at `size`."""
    if isinstance(image, bytes):
        return decode_image(image, size)
    image = np.asarray(image)
    if image.shape[:2] == (size, size) and image.shape[-1] == 3:
        return image.astype(np.uint8)
    return fit_image(Image.fromarray(np.squeeze(image)), size)

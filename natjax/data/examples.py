"""Images of a random-access source of examples (a tfds data source, ArrayRecord records),
decoded on demand."""

import numpy as np
from PIL import Image

from natjax.data.decode import map_in_order
from natjax.data.folder import decode_image, fit_image


class ExampleImages:
    """Random-access uint8 images `[n, S, S, 3]` of `source[i]["image"]`, decoded when read:
    one id (`images[i]`, as a training run's grain workers read it) in the caller's thread,
    many on `workers` of grain's reading threads."""

    def __init__(self, source, image_size: int, workers: int = 1):
        self._source = source
        self._workers = workers
        self.shape = (len(source), image_size, image_size, 3)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.shape[0]

    def _row(self, i: int) -> np.ndarray:
        return _fit(self._source[i]["image"], self.shape[1])

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            return self._row(range(len(self))[index])
        ids = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        images = map_in_order(self._row, [int(i) for i in ids.ravel()], self._workers)
        if not images:
            return np.zeros((0, *self.shape[1:]), np.uint8)
        return np.stack(images).reshape(*ids.shape, *self.shape[1:])


def _fit(image, size: int) -> np.ndarray:
    """An example's image, decoded by tfds (an array) or still encoded (bytes), at `size`."""
    if isinstance(image, bytes):
        return decode_image(image, size)
    image = np.asarray(image)
    if image.shape[:2] == (size, size) and image.shape[-1] == 3:
        return image.astype(np.uint8)
    return fit_image(Image.fromarray(np.squeeze(image)), size)

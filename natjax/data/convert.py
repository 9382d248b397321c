"""Another dataset's images as an encoder expects its input, for transfer: resized to the side
of the images it trained on (shorter side, then the centre square, as the loaders fit them)
and given their channels (RGB to gray by ITU-R 601 luma, gray to RGB by repetition)."""

import dataclasses

import numpy as np
from PIL import Image

from natjax.data.folder import fit_image
from natjax.data.types import Dataset, Split


class ConvertedImages:
    """The array-like `images` (`[n, H, W, C]` uint8) as `[n, *shape]`, each row converted when
    read, so a large or lazily decoded source stays so."""

    def __init__(self, images, shape: tuple[int, int, int]):
        self._images = images
        self.shape = (len(images), *shape)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        rows = np.asarray(self._images[index])
        flat = rows.reshape(-1, *rows.shape[-3:])
        out = np.stack([convert_image(x, self.shape[1:]) for x in flat]) if len(flat) else None
        if out is None:
            return np.zeros((*rows.shape[:-3], *self.shape[1:]), np.uint8)
        return out.reshape(*rows.shape[:-3], *self.shape[1:])


def convert_image(image: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """One uint8 image `[H, W, C]` (C 1 or 3) as `[S, S, C']` for `shape` `(S, S, C')`."""
    side, channels = shape[0], shape[-1]
    if image.shape == tuple(shape):
        return image
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    out = fit_image(pil, side, "L" if channels == 1 else "RGB")
    return out[..., None] if channels == 1 else out


def convert_split(split: Split, shape: tuple[int, int, int]) -> Split:
    if tuple(split.images.shape[1:]) == tuple(shape):
        return split
    return Split(ConvertedImages(split.images, shape), split.labels)


def convert_dataset(dataset: Dataset, shape: tuple[int, int, int]) -> Dataset:
    """`dataset` with both splits' images as `[*, *shape]` (unchanged where they are)."""
    return dataclasses.replace(
        dataset,
        train=convert_split(dataset.train, shape),
        test=convert_split(dataset.test, shape),
    )

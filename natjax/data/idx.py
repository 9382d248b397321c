"""Reader for (Fashion-)MNIST IDX files, as Debian's `dataset-fashion-mnist` installs them."""

import gzip
import os
import zlib

import numpy as np

from natjax.data.types import Dataset, Split
from natjax.errors import UserError

DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (optionally gzipped) into an array of its stored shape."""
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise UserError(f"{path} is not an IDX file; reinstall the dataset package.")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UserError(
            f"{path} is truncated ({data.size} values for shape {shape}); reinstall the "
            "dataset package or copy the file again."
        )
    return data.reshape(shape)


def _read_bytes(path: str) -> bytes:
    """The file's bytes, un-gzipped for `.gz`: gzip checks its CRC on reaching the end, so a
    changed byte is found here, not later as a wrong image."""
    opener = gzip.open if path.endswith(".gz") else open
    again = "reinstall the dataset package or copy the file again."
    try:
        with opener(path, "rb") as f:
            return f.read()
    except EOFError as e:
        raise UserError(f"{path} is truncated (its gzip stream ends early); {again}") from e
    except (gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"{path} is damaged or no gzip file ({e}); {again}") from e


def load_idx_dataset(directory: str, name: str = "fashion_mnist") -> Dataset:
    """Loads the train and test splits of an (Fashion-)MNIST IDX directory."""
    splits = {}
    for split, (images_file, labels_file) in _FILES.items():
        images_path = os.path.join(directory, images_file)
        labels_path = os.path.join(directory, labels_file)
        for path in (images_path, labels_path):
            if not os.path.exists(path):
                raise UserError(
                    f"{path} is missing; install Fashion-MNIST with "
                    "`sudo apt-get install dataset-fashion-mnist` or point "
                    "--config.data.source=idx:DIR at a folder holding the four IDX .gz files."
                )
        images = read_idx(images_path)[..., None]  # [n, 28, 28, 1]
        splits[split] = Split(images=images, labels=read_idx(labels_path).astype(np.int32))
    return Dataset(name=name, train=splits["train"], test=splits["test"], num_classes=10)

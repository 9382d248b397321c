"""Shared fixtures: tiny configs and datasets made on the fly (no dataset is committed)."""

import gzip
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # `configs` is a top-level folder, not an installed package.


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes `array` (uint8) as a gzipped IDX file."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_idx_dataset(directory: str, n_train: int = 96, n_test: int = 40, size: int = 12) -> str:
    """A learnable toy dataset in IDX form: each class is a bright square at its own place."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 4, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, size, size)).astype(np.uint8)
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 2)
            images[i, r * size // 2 : (r + 1) * size // 2, c * size // 2 : (c + 1) * size // 2] = (
                220
            )
        write_idx(os.path.join(directory, names[split][0]), images)
        write_idx(os.path.join(directory, names[split][1]), labels)
    return directory


def tiny_config(directory: str):
    """The smoke preset shrunk to a toy IDX dataset and a 2-stage convnet: seconds on CPU."""
    from configs.nat import get_config

    config = get_config("smoke")
    config.data.source = "idx:" + make_idx_dataset(os.path.join(directory, "idx"))
    config.data.update(max_train_examples=0, max_test_examples=0, image_size=12)
    config.update(batch_size=16, num_epochs=3, progress_bar=False)
    config.model.update(widths=(8, 16), target_dim=8)
    config.eval.update(knn_k=10, probe_steps=50)
    return config

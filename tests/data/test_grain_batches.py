"""Batches decoded by grain's worker processes (`natjax.data.grain_batches`)."""

import numpy as np

from natjax.data.folder import load_folder_dataset
from natjax.data.grain_batches import read_batches
from tests.data.folders import png


def _folder(root):
    """7 training PNGs of distinct reds, and one file that is no image (id 7): lazily decoded."""
    for i in range(7):
        (root / "train" / "a").mkdir(parents=True, exist_ok=True)
        (root / "train" / "a" / f"{i}.png").write_bytes(png((30 * i, 0, 0)))
    (root / "train" / "b").mkdir()
    (root / "train" / "b" / "bad.png").write_bytes(b"not an image")
    (root / "test" / "a").mkdir(parents=True)
    (root / "test" / "a" / "0.png").write_bytes(png((0, 0, 0)))
    dataset, _ = load_folder_dataset(str(root), "train", "test", 4, 2, in_memory_bytes=0)
    return dataset.train.images


def test_worker_processes_give_the_threads_batches_in_order_and_a_bad_file_black(tmp_path):
    images = _folder(tmp_path / "reds")
    ids = np.array([[6, 0], [7, 2], [1, 5], [3, 3]])
    for workers in (0, 2):
        batches = read_batches(images, ids, workers).__iter__()
        got = list(batches)
        batches.close()
        assert len(got) == 4 and all(b.dtype == np.uint8 and b.shape == (2, 4, 4, 3) for b in got)
        for k, batch in enumerate(got):
            np.testing.assert_array_equal(batch, images[ids[k]])
        assert got[0][:, 0, 0, 0].tolist() == [180, 0] and not got[1][0].any()

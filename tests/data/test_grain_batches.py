"""A run's batches as a grain pipeline (`natjax.data.grain_batches`): the order is a pure
function of (seed, step), whatever holds the images and however many processes decode them."""

import os
import signal
import threading

import numpy as np
import pytest

from natjax.data.folder import load_folder_dataset
from natjax.data.grain_batches import train_batches
from natjax.data.pipeline import epoch_ids
from natjax.data.types import Split
from natjax.errors import UserError
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
    return dataset.train


def _expected(split, batch_size, seed, steps, rows):
    """Each step's batch written out from `epoch_ids`, as the loop read it before grain."""
    spe = len(split) // batch_size
    for step in steps:
        epoch, offset = divmod(step, spe)
        ids = epoch_ids(len(split), batch_size, seed, epoch)[offset][rows]
        yield {"images": np.asarray(split.images[ids]), "ids": ids, "labels": split.labels[ids]}


def _assert_same(got, expected):
    got, expected = list(got), list(expected)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert sorted(g) == sorted(e)
        for key in e:
            np.testing.assert_array_equal(g[key], e[key])


def test_in_memory_batches_are_each_steps_ids_gathered_across_epochs():
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 256, (23, 2, 2, 3), np.uint8), rng.integers(0, 5, 23))
    steps = range(3, 12)  # 5 steps an epoch: from inside epoch 0 to inside epoch 2.
    got = train_batches(split, 4, 7, steps, rows=slice(1, 3), labelled=True)
    _assert_same(got, _expected(split, 4, 7, steps, slice(1, 3)))
    unlabelled = next(train_batches(split, 4, 7, steps, ahead=0))
    assert sorted(unlabelled) == ["ids", "images"] and unlabelled["ids"].dtype == np.int32


def test_a_resumed_pipeline_gives_the_tail_of_the_uninterrupted_one():
    split = Split(np.arange(40, dtype=np.uint8).reshape(10, 2, 2, 1), np.zeros(10, np.int32))
    whole = list(train_batches(split, 3, 1, range(0, 9)))
    _assert_same(train_batches(split, 3, 1, range(4, 9)), whole[4:])


@pytest.mark.parametrize("workers", [0, 2])
def test_decoded_batches_match_the_gathered_ones_and_a_bad_file_reads_black(tmp_path, workers):
    lazy = _folder(tmp_path / "reds")
    in_memory = Split(lazy.images[:], lazy.labels)
    assert not in_memory.images[7].any()  # The file that is no image.
    steps, rows = range(1, 7), slice(0, 2)  # 2 steps an epoch of 3 images each.
    got = train_batches(lazy, 3, 5, steps, rows=rows, labelled=True, workers=workers)
    _assert_same(got, _expected(in_memory, 3, 5, steps, rows))


def test_put_gets_each_batch_and_closing_stops_the_thread():
    split = Split(np.zeros((8, 1, 1, 1), np.uint8), np.zeros(8, np.int32))
    ready = train_batches(split, 2, 0, range(100), put=lambda b: {"n": len(b["ids"])}, ahead=2)
    assert next(ready) == {"n": 2}
    ready.close()
    assert not any("grain-thread-prefetch" in t.name for t in threading.enumerate())


class DiesInAWorker:
    """Images of zeros; reading id `fatal` kills the process reading it, if not the test's."""

    def __init__(self, n: int, fatal: int):
        self.shape, self.fatal, self.parent = (n, 2, 2, 3), fatal, os.getpid()

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, i):
        if i == self.fatal and os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.zeros(self.shape[1:], np.uint8)


def test_a_decoding_process_that_dies_is_one_sentence():
    split = Split(DiesInAWorker(12, fatal=5), np.zeros(12, np.int32))
    ready = train_batches(split, 4, 0, range(9), workers=2)
    with pytest.raises(UserError, match=r"decoding images \(one of 2\) was killed by signal 9"):
        for _ in ready:
            pass

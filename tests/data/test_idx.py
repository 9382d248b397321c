"""IDX files (`natjax.data.idx`), as Debian's Fashion-MNIST package installs them."""

import gzip

import numpy as np
import pytest

from natjax.data.idx import load_idx_dataset, read_idx
from natjax.errors import UserError
from tests.helpers import make_idx_dataset, write_idx


def test_read_idx_round_trips(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(str(tmp_path / "x.gz"), array)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "x.gz")), array)


def test_truncated_idx_is_reported(tmp_path):
    write_idx(str(tmp_path / "x.gz"), np.zeros((4, 4), np.uint8))
    with gzip.open(tmp_path / "x.gz") as f:
        raw = f.read()[:-3]
    with gzip.open(tmp_path / "y.gz", "wb") as f:
        f.write(raw)
    with pytest.raises(UserError, match="truncated"):
        read_idx(str(tmp_path / "y.gz"))


def test_a_file_that_is_no_idx_is_reported(tmp_path):
    (tmp_path / "x").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(UserError, match="is not an IDX file"):
        read_idx(str(tmp_path / "x"))


def test_an_idx_directory_loads_as_one_channel_images_and_int32_labels(tmp_path):
    dataset = load_idx_dataset(make_idx_dataset(str(tmp_path), n_train=10, n_test=6, size=5))
    assert dataset.name == "fashion_mnist" and dataset.num_classes == 10
    assert dataset.image_shape == (5, 5, 1) and (len(dataset.train), len(dataset.test)) == (10, 6)
    assert dataset.train.labels.dtype == np.int32 and dataset.train.labels.max() < 4

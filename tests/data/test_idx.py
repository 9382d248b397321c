"""IDX files (`natjax.data.idx`), as Debian's Fashion-MNIST package installs them."""

import gzip

import numpy as np
import pytest

from natjax.data.idx import load_idx_dataset, read_idx
from natjax.errors import UserError
from tests.helpers import make_idx_dataset, only_error, write_idx

AGAIN = "reinstall the dataset package or copy the file again."


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


def _images_file(tmp_path, raw: bytes) -> str:
    """An IDX directory whose training images file holds `raw`; returns that file's path."""
    make_idx_dataset(str(tmp_path), n_train=10, n_test=6, size=5)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(raw)
    return str(path)


def test_a_truncated_gzip_is_one_sentence_naming_the_file(tmp_path, capsys, caplog):
    """Cut as `head -c` cuts it (an EOFError before)."""
    write_idx(str(tmp_path / "x.gz"), np.arange(400, dtype=np.uint8).reshape(20, 20))
    path = _images_file(tmp_path, (tmp_path / "x.gz").read_bytes()[:100])
    message = only_error(lambda: load_idx_dataset(str(tmp_path)), capsys, caplog)
    assert message == f"{path} is truncated (its gzip stream ends early); {AGAIN}"


def test_a_file_that_is_no_gzip_is_one_sentence_naming_the_file(tmp_path, capsys, caplog):
    """Garbage named .gz (a BadGzipFile before)."""
    path = _images_file(tmp_path, b"<html>Not Found</html>")
    message = only_error(lambda: load_idx_dataset(str(tmp_path)), capsys, caplog)
    assert message == (f"{path} is damaged or no gzip file (Not a gzipped file (b'<h')); {AGAIN}")


def test_a_changed_byte_is_found_by_gzips_crc(tmp_path, capsys, caplog):
    """Stored, not compressed, so the changed bytes decompress as written: gzip's CRC32 finds
    them, where the images would have read with other pixels."""
    raw = np.arange(400, dtype=np.uint8).tobytes()
    stored = bytearray(gzip.compress(raw, compresslevel=0))
    at = stored.index(raw[200:220])
    stored[at : at + 4] = b"\xde\xad\xbe\xef"
    (tmp_path / "x.gz").write_bytes(bytes(stored))
    message = only_error(lambda: read_idx(str(tmp_path / "x.gz")), capsys, caplog)
    assert message.startswith(f"{tmp_path / 'x.gz'} is damaged or no gzip file (CRC check failed")
    assert message.endswith(AGAIN)

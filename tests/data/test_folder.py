"""Image folders (`natjax.data.folder`): class sub-folders, archives, bad files, and folders
too large for memory decoded per batch."""

import re
import tarfile

import numpy as np
import pytest

from configs.nat import get_config
from natjax import data
from natjax.data.folder import load_folder_dataset
from natjax.errors import UserError
from tests.data.folders import archive, make_folder, png
from tests.helpers import only_error


def test_folder_dataset_labels_ids_and_resizing(tmp_path):
    config = get_config().data
    config.source = f"folder:{make_folder(tmp_path / 'pets')}"
    config.image_size = 4
    dataset = data.load(config)
    assert dataset.num_classes == 2 and dataset.image_shape == (4, 4, 3)
    np.testing.assert_array_equal(dataset.train.labels, [0, 0, 0, 1, 1, 1])  # Sorted classes.
    assert dataset.train.images[0, 0, 0].tolist() == [255, 0, 0]
    assert dataset.train.images[-1, 0, 0].tolist() == [0, 0, 255]


def test_folder_from_tar_archive_skips_corrupt_files(tmp_path, caplog):
    root = make_folder(tmp_path / "pets", corrupt=True)
    archive = tmp_path / "pets.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="pets")
    config = get_config().data
    config.source = f"folder:{archive}"
    config.image_size = 6
    dataset = data.load(config)
    assert len(dataset.train) == 6 and len(dataset.test) == 4
    assert "Skipped 1 image" in caplog.text


def test_folder_without_split_says_what_layout_is_expected(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(png((0, 0, 0)))
    config = get_config().data
    config.source = f"folder:{tmp_path / 'flat'}"
    with pytest.raises(UserError, match="train/<class>/<image>"):
        data.load(config)


def test_a_folder_too_large_for_memory_is_decoded_on_demand_like_the_in_memory_one(
    tmp_path, caplog
):
    """The same ids, labels and pixels either way, on 1 or 3 threads; a file found bad only
    when read reads as black with a warning (the in-memory load skips it at load)."""
    root = str(make_folder(tmp_path / "pets"))
    eager, _ = load_folder_dataset(root, "train", "test", 4, workers=3)
    for workers in (1, 3):
        lazy, skipped = load_folder_dataset(root, "train", "test", 4, workers, in_memory_bytes=0)
        assert skipped == 0 and not isinstance(lazy.train.images, np.ndarray)
        np.testing.assert_array_equal(lazy.train.labels, eager.train.labels)
        np.testing.assert_array_equal(lazy.train.images[:], eager.train.images)
        np.testing.assert_array_equal(lazy.train.images[[5, 0]], eager.train.images[[5, 0]])
        assert lazy.train.images[np.array([[1, 2], [3, 4]])].shape == (2, 2, 4, 4, 3)
    (tmp_path / "pets" / "train" / "dog" / "2.png").write_bytes(b"broken")
    lazy, _ = load_folder_dataset(root, "train", "test", 4, 2, in_memory_bytes=0)
    assert len(lazy.train) == 6 and not lazy.train.images[5].any()
    assert "Image 5 cannot be decoded (dog/2.png: " in caplog.text


def _load(source, image_size=6):
    config = get_config().data
    config.source = f"folder:{source}"
    config.image_size = image_size
    return data.load(config)


def _damaged(path, why: str) -> str:
    return rf"{re.escape(str(path))} is truncated or damaged \({why}\); download or copy it again\."


def test_a_truncated_archive_is_one_sentence(tmp_path, capsys, caplog):
    """Cut as `head -c` cuts it: gzip's stream ends early (an EOFError before)."""
    good = archive(make_folder(tmp_path / "pets"), tmp_path / "pets.tar.gz").read_bytes()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(good[: len(good) // 2])
    message = only_error(lambda: _load(bad), capsys, caplog)
    assert re.fullmatch(_damaged(bad, "Compressed file ended before .*"), message)


def _overwrite(path, at: int, data: bytes):
    raw = bytearray(path.read_bytes())
    raw[at : at + len(data)] = data
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("name", ["pets.tar", "pets.tar.gz"])
def test_a_damaged_header_is_one_sentence_not_a_missing_folder(tmp_path, name, capsys, caplog):
    """4 bytes overwritten in the header of `pets/train`: tarfile took the header that fails
    its checksum for the archive's end, and the load said there was no 'train' folder. (No
    compression, so that the bytes land in the header; gzip's CRC would find them too.)"""
    path = archive(make_folder(tmp_path / "pets"), tmp_path / name, compresslevel=0)
    _overwrite(path, path.read_bytes().index(b"pets/train/\0") + 4, b"\xde\xad\xbe\xef")
    message = only_error(lambda: _load(path), capsys, caplog)
    assert re.fullmatch(_damaged(path, "a damaged tar header: bad checksum"), message)


def test_a_changed_byte_in_an_image_is_found_by_gzips_crc(tmp_path, capsys, caplog):
    """8 bytes overwritten inside one BMP's pixels (stored, not compressed, so they decompress
    as written): the image decoded with other pixels and nothing was said; gzip's CRC32, checked
    when the stream is read to its end, finds them."""
    path = archive(make_folder(tmp_path / "pets", fmt="BMP"), tmp_path / "p.tar.gz", 0)
    member = path.read_bytes().index(b"pets/train/dog/1.bmp\0")
    _overwrite(path, member + 512 + 60, b"\x00\xff\x00" * 2 + b"\x00\xff")  # Pixels, green.
    message = only_error(lambda: _load(path), capsys, caplog)
    assert re.fullmatch(_damaged(path, "CRC check failed 0x[0-9a-f]+ != 0x[0-9a-f]+"), message)


def test_an_archive_appended_to_another_is_one_sentence(tmp_path, capsys, caplog):
    """Members after the end-of-archive marker, which tarfile never reads: not left out unsaid."""
    first = archive(make_folder(tmp_path / "pets"), tmp_path / "a.tar").read_bytes()
    both = tmp_path / "both.tar"
    both.write_bytes(
        first + archive(make_folder(tmp_path / "more"), tmp_path / "b.tar").read_bytes()
    )
    message = only_error(lambda: _load(both), capsys, caplog)
    assert re.fullmatch(_damaged(both, "data after the end-of-archive marker"), message)


def test_a_file_that_is_no_archive_is_one_sentence(tmp_path, capsys, caplog):
    path = tmp_path / "cat.png"
    path.write_bytes(png((255, 0, 0)))
    assert only_error(lambda: _load(path), capsys, caplog) == (
        f"{path} is neither an image folder nor a .tar(.gz) archive of one; pass "
        "--config.data.source=folder:PATH with a folder or an archive of one."
    )


def test_test_images_of_a_class_with_no_training_image_are_left_out_with_one_line(
    tmp_path, capsys, caplog
):
    root = make_folder(tmp_path / "pets")
    (root / "train" / "bird").mkdir()  # Empty.
    (root / "test" / "bird").mkdir()
    for i in range(2):
        (root / "test" / "bird" / f"{i}.png").write_bytes(png((0, 255, 0)))
    dataset = _load(root)
    assert dataset.num_classes == 2 and len(dataset.test) == 4
    (record,) = caplog.records
    assert record.levelname == "WARNING" and record.getMessage() == (
        "Leaving out 2 test images of classes with no training image (bird: 2); add their "
        f"images to {root}/train/<class> or remove them from {root}/test."
    )
    # Once absl's handler is installed (any earlier test that ran a command does so), the
    # record also reaches stderr, through it: still once.
    out, err = capsys.readouterr()
    assert out == "" and err.count("Leaving out") <= 1

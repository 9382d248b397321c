"""Image folders (`natjax.data.folder`): class sub-folders, archives, bad files, and folders
too large for memory decoded per batch."""

import tarfile

import numpy as np
import pytest

from configs.nat import get_config
from natjax import data
from natjax.data.folder import load_folder_dataset
from natjax.errors import UserError
from tests.data.folders import make_folder, png


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
    assert "cannot be decoded" in caplog.text

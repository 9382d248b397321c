"""`natjax.data.load`: the sources by `data.source`, and the subsets `max_*_examples` keep."""

import shutil

import numpy as np
import pytest

from configs.nat import get_config
from natjax import data
from natjax.data import Dataset, Split
from natjax.errors import UserError
from tests.data.folders import make_folder
from tests.helpers import make_idx_dataset, only_error


def test_idx_source_and_example_limits(tmp_path):
    config = get_config().data
    config.source = "idx:" + make_idx_dataset(str(tmp_path))
    config.max_train_examples = 50
    dataset = data.load(config)
    assert dataset.image_shape == (12, 12, 1)
    assert len(dataset.train) == 50 and len(dataset.test) == 40
    assert dataset.train.images.dtype == np.uint8 and dataset.train.labels.dtype == np.int32


def _with(config, **changes):
    config = config.copy_and_resolve_references()
    config.update(changes)
    return config


def test_example_limits_draw_a_seeded_subset_that_keeps_every_class(tmp_path):
    """A folder is stored class by class: its first 3 training images are all cats, while a
    random subset of 3 (the default) holds both classes; the same seed draws the same images."""
    config = get_config().data
    config.source = f"folder:{make_folder(tmp_path / 'pets')}"
    config.image_size = 4
    config.update(max_train_examples=3, max_test_examples=2)
    first = data.load(_with(config, subset="first"))
    assert first.train.labels.tolist() == [0, 0, 0]
    drawn = [data.load(config) for _ in range(2)]
    assert len(drawn[0].train) == 3 and len(drawn[0].test) == 2
    assert set(drawn[0].train.labels.tolist()) == {0, 1}
    np.testing.assert_array_equal(drawn[0].train.images, drawn[1].train.images)
    seeds = {tuple(data.load(_with(config, subset_seed=s)).train.labels) for s in range(8)}
    assert len(seeds) > 1  # The seed picks the subset.


def test_missing_idx_files_say_how_to_install(tmp_path):
    config = get_config().data
    config.source = f"idx:{tmp_path}"
    with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
        data.load(config)


def test_unknown_source_is_named():
    config = get_config().data
    config.source = "s3://bucket"
    with pytest.raises(UserError, match="not a data source"):
        data.load(config)


def test_a_dataset_needs_labels_of_two_classes_in_both_splits():
    two = Split(np.zeros((4, 2, 2, 1), np.uint8), np.array([0, 1, 0, 1]))
    one = Split(np.zeros((4, 2, 2, 1), np.uint8), np.zeros(4, np.int32))
    data.check_labelled(Dataset("ok", two, two, 2))
    with pytest.raises(UserError, match="has 1 class; the protocols score labels"):
        data.check_labelled(Dataset("single", one, one, 1))
    with pytest.raises(UserError, match="the test split of 'half' holds images of fewer than two"):
        data.check_labelled(Dataset("half", two, one, 2))


def test_a_dataset_of_one_class_is_refused_at_load(tmp_path, capsys, caplog):
    """It trained, and every probe scored 100%: one class is all any probe could answer."""
    root = make_folder(tmp_path / "cats")
    for split in ("train", "test"):
        shutil.rmtree(root / split / "dog")
    config = get_config().data
    config.source = f"folder:{root}"
    message = only_error(lambda: data.load(config), capsys, caplog)
    assert message == (
        "the dataset 'cats' has 1 class; the protocols score labels of at least two classes, "
        "so give a dataset of two or more (an image folder: a folder per class in each split)."
    )

"""Splits (`natjax.data.types`): the first `n` examples, or `n` drawn by a seed in id order."""

import numpy as np
import pytest

from natjax.data import Dataset, Split


def test_head_and_sample_keep_ids_and_labels_together():
    split = Split(np.arange(10, dtype=np.uint8)[:, None, None, None], np.arange(10) % 3)
    head = split.head(4)
    assert head.images[:, 0, 0, 0].tolist() == [0, 1, 2, 3] and head.labels.tolist() == [0, 1, 2, 0]
    assert split.head(0) is split
    drawn = split.sample(4, seed=1)
    ids = drawn.images[:, 0, 0, 0]
    assert len(drawn) == 4 and np.all(np.diff(ids) > 0)  # Distinct, in id order.
    np.testing.assert_array_equal(drawn.labels, ids % 3)
    np.testing.assert_array_equal(split.sample(4, seed=1).images, drawn.images)
    assert split.sample(0, 1) is split and split.sample(10, 1) is split


def test_a_datasets_image_shape_is_its_training_images():
    split = Split(np.zeros((2, 5, 4, 3), np.uint8), np.zeros(2, np.int32))
    assert Dataset("toy", split, split, 2).image_shape == (5, 4, 3)


def test_a_labelled_fraction_is_balanced_seeded_and_in_id_order():
    labels = np.repeat(np.arange(4), [40, 40, 40, 80])  # One class twice as large.
    split = Split(np.arange(200, dtype=np.int32)[:, None, None, None], labels)
    tenth = split.labelled_fraction(0.1, seed=3)
    np.testing.assert_array_equal(np.bincount(tenth.labels), [4, 4, 4, 8])
    ids = tenth.images[:, 0, 0, 0]
    assert np.all(np.diff(ids) > 0)
    np.testing.assert_array_equal(tenth.labels, labels[ids])
    np.testing.assert_array_equal(split.labelled_fraction(0.1, seed=3).images, tenth.images)
    assert not np.array_equal(split.labelled_fraction(0.1, seed=4).images, tenth.images)
    assert np.bincount(split.labelled_fraction(0.001, 0).labels).tolist() == [1, 1, 1, 1]
    assert split.labelled_fraction(1.0, 0) is split


def test_a_labelled_fraction_outside_0_1_is_refused():
    split = Split(np.zeros((4, 1, 1, 1), np.uint8), np.arange(4))
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match=r"not in \(0, 1\]"):
            split.labelled_fraction(bad, 0)

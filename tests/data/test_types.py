"""Splits (`natjax.data.types`): the first `n` examples, or `n` drawn by a seed in id order."""

import numpy as np

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

"""tensorflow-datasets by name, on tfds' own mock data (no network, no TensorFlow)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from natjax.data.tfds_source import LazyImages, load_tfds_dataset
from natjax.errors import UserError


def test_cifar10_by_name_from_tfds():
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        dataset = load_tfds_dataset("cifar10", "", "train", "test", 32)
    assert dataset.num_classes == 10 and dataset.image_shape == (32, 32, 3)
    assert len(dataset.train) == 12 and dataset.train.images.dtype == np.uint8
    assert dataset.train.labels.dtype == np.int32 and dataset.train.labels.max() < 10


def test_lazy_images_resize_on_access():
    class Source:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"image": np.full((10, 20, 3), i, np.uint8)}

    images = LazyImages(Source(), 8)
    assert images.shape == (3, 8, 8, 3)
    np.testing.assert_array_equal(images[np.array([2, 0])][:, 0, 0, 0], [2, 0])
    assert images[1:].shape == (2, 8, 8, 3)


def test_unknown_tfds_name_is_one_sentence():
    with pytest.raises(UserError, match="no dataset 'no_such_dataset'"):
        load_tfds_dataset("no_such_dataset", "", "train", "test", 32)


def test_a_tfds_dataset_without_labels_is_one_sentence(monkeypatch):
    from types import SimpleNamespace

    from natjax.data import tfds_source

    unlabelled = SimpleNamespace(info=SimpleNamespace(features={"image": None}))
    monkeypatch.setattr(tfds_source, "_prepared_builder", lambda name, data_dir: unlabelled)
    with pytest.raises(UserError, match="has no 'label' feature nor objects' labels"):
        tfds_source.load_tfds_dataset("coco_captions", "", "train", "test", 32)


def test_voc_reads_each_images_objects_labels_as_multi_hot():
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        dataset = load_tfds_dataset("voc/2007", "", "train", "test", 16)
    assert dataset.num_classes == 20 and dataset.multilabel
    assert dataset.train.labels.shape == (12, 20) and set(np.unique(dataset.train.labels)) <= {0, 1}
    assert dataset.train.images.shape == (12, 16, 16, 3)

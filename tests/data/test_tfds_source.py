"""tensorflow-datasets by name, on tfds' own mock data (no network, no TensorFlow)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from natjax.data.tfds_source import load_tfds_dataset
from natjax.errors import UserError


def test_cifar10_by_name_from_tfds():
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        dataset = load_tfds_dataset("cifar10", "", "train", "test", 32)
    assert dataset.num_classes == 10 and dataset.image_shape == (32, 32, 3)
    assert len(dataset.train) == 12 and dataset.train.images.dtype == np.uint8
    assert dataset.train.labels.dtype == np.int32 and dataset.train.labels.max() < 10


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


class NatjaxToyRecords(tfds.core.GeneratorBasedBuilder):
    """A tfds dataset prepared as ArrayRecord files with no network and no TensorFlow: 8x8
    images stored as tensors, 6 to train (value 20 i, class i mod 2) and 4 to test."""

    VERSION = tfds.core.Version("1.0.0")
    # No checksums file beside it: tfds would look for one through `importlib_resources`,
    # which tfds does not install.
    code_path = None

    def _info(self):
        features = {
            "image": tfds.features.Tensor(shape=(8, 8, 3), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=2),
        }
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(6), "test": self._generate_examples(4)}

    def _generate_examples(self, n):
        for i in range(n):
            yield i, {"image": np.full((8, 8, 3), 20 * i, np.uint8), "label": i % 2}


def _prepared(data_dir) -> str:
    NatjaxToyRecords(data_dir=str(data_dir), file_format="array_record").download_and_prepare()
    return "natjax_toy_records"


def test_a_tfds_arrayrecord_dataset_too_large_for_memory_trains_from_worker_processes(tmp_path):
    from natjax.data.grain_batches import train_batches

    name = _prepared(tmp_path)
    whole = load_tfds_dataset(name, str(tmp_path), "train", "test", 8)
    lazy = load_tfds_dataset(name, str(tmp_path), "train", "test", 8, 2, in_memory_bytes=0)
    assert isinstance(whole.train.images, np.ndarray) and not isinstance(
        lazy.train.images, np.ndarray
    )
    values = whole.train.images[:, 0, 0, 0]  # In tfds' order of the files, not the keys'.
    assert sorted(values) == [0, 20, 40, 60, 80, 100]
    assert whole.train.labels.tolist() == (values // 20 % 2).tolist()
    steps = range(1, 5)
    for a, b in zip(
        train_batches(whole.train, 2, 3, steps, labelled=True),
        train_batches(lazy.train, 2, 3, steps, labelled=True, workers=2),
        strict=True,
    ):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_a_missing_tfds_shard_is_one_sentence(tmp_path):
    name = _prepared(tmp_path)
    (shard,) = (tmp_path / name / "1.0.0").glob("*-train.array_record-*")
    shard.unlink()
    with pytest.raises(UserError, match=r"natjax_toy_records's split 'train' lacks 1 ArrayRecord"):
        load_tfds_dataset(name, str(tmp_path), "train", "test", 8)

"""ArrayRecord files a user wrote (`natjax.data.array_record`): read whole or on demand, by
grain's worker processes in training, and one sentence for a missing or damaged shard."""

import numpy as np
import pytest
from array_record.python.array_record_module import ArrayRecordWriter
from tensorflow_datasets.proto import tf_example_pb2

from natjax.data.array_record import load_array_record_dataset, missing_shards
from natjax.data.grain_batches import train_batches
from natjax.errors import UserError
from tests.data.folders import png


def _example(colour, label: int | None) -> bytes:
    example = tf_example_pb2.Example()
    example.features.feature["image"].bytes_list.value.append(png(colour, size=8))
    if label is not None:
        example.features.feature["label"].int64_list.value.append(label)
    return example.SerializeToString()


def _write(path, examples):
    writer = ArrayRecordWriter(str(path), "group_size:1")
    for example in examples:
        writer.write(example)
    writer.close()


def write_records(root, label=True):
    """`root/toy-train.array_record-0000{0,1}-of-00002` (6 images: reds of class 0, blues of
    class 1, alternating) and `root/toy-test.array_record` (2 images)."""
    root.mkdir(parents=True, exist_ok=True)
    train = [_example((40 * i, 0, 255 * (i % 2)), i % 2 if label else None) for i in range(6)]
    _write(root / "toy-train.array_record-00000-of-00002", train[:4])
    _write(root / "toy-train.array_record-00001-of-00002", train[4:])
    _write(root / "toy-test.array_record", [_example((0, 0, 0), 0), _example((0, 0, 255), 1)])
    return root


def test_records_load_in_memory_and_on_demand_alike_and_train_from_worker_processes(tmp_path):
    root = str(write_records(tmp_path / "toy"))
    whole = load_array_record_dataset(root, "train", "test", 4)
    lazy = load_array_record_dataset(root, "train", "test", 4, workers=2, in_memory_bytes=0)
    assert whole.num_classes == 2 and isinstance(whole.train.images, np.ndarray)
    assert whole.train.labels.tolist() == [0, 1, 0, 1, 0, 1] and len(whole.test) == 2
    assert whole.train.images[:, 0, 0, 0].tolist() == [0, 40, 80, 120, 160, 200]
    np.testing.assert_array_equal(lazy.train.images[:], whole.train.images)
    steps = range(0, 4)  # 3 steps an epoch of 2 images: into the second epoch.
    for a, b in zip(
        train_batches(whole.train, 2, 0, steps, labelled=True),
        train_batches(lazy.train, 2, 0, steps, labelled=True, workers=2),
        strict=True,
    ):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_a_missing_shard_is_one_sentence_naming_it(tmp_path):
    root = write_records(tmp_path / "toy")
    (root / "toy-train.array_record-00001-of-00002").unlink()
    with pytest.raises(UserError, match=r"lacks 1 ArrayRecord shard\(s\), .*00001-of-00002"):
        load_array_record_dataset(str(root), "train", "test", 4)
    assert missing_shards([str(root / "toy-test.array_record")]) == []


def test_a_truncated_shard_records_without_labels_and_no_files_are_one_sentence(tmp_path):
    root = write_records(tmp_path / "toy")
    shard = root / "toy-train.array_record-00000-of-00002"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(UserError, match=r"00000-of-00002 cannot be read as an ArrayRecord file"):
        load_array_record_dataset(str(root), "train", "test", 4)
    unlabelled = write_records(tmp_path / "unlabelled", label=False)
    with pytest.raises(UserError, match=r"the int64 class under 'label'"):
        load_array_record_dataset(str(unlabelled), "train", "test", 4)
    with pytest.raises(UserError, match=r"no ArrayRecord file of split 'validation'"):
        load_array_record_dataset(str(root), "validation", "test", 4)
    with pytest.raises(UserError, match=r"is not a directory of ArrayRecord files"):
        load_array_record_dataset(str(tmp_path / "nowhere"), "train", "test", 4)


def test_a_record_whose_image_cannot_be_decoded_reads_black_with_a_warning(tmp_path, caplog):
    root = tmp_path / "toy"
    root.mkdir()
    broken = tf_example_pb2.Example()
    broken.features.feature["image"].bytes_list.value.append(b"not an image")
    broken.features.feature["label"].int64_list.value.append(1)
    _write(root / "train.array_record", [_example((90, 0, 0), 0), broken.SerializeToString()])
    _write(root / "test.array_record", [_example((0, 0, 0), 0), _example((0, 0, 255), 1)])
    for in_memory_bytes in (2 << 30, 0):
        dataset = load_array_record_dataset(str(root), "train", "test", 4, 1, in_memory_bytes)
        assert dataset.train.images[0][0, 0, 0] == 90 and not dataset.train.images[1].any()
    assert "Image 1 cannot be decoded" in caplog.text

"""ArrayRecord files: a user's own (`data.source=arrayrecord:DIR`), and the shard check that
tfds' ArrayRecord datasets share.

A user's files follow tfds' layout and record format, so a dataset written by tfds or by hand
reads the same way: `DIR/NAME-SPLIT.array_record-00000-of-00004` (or one unsharded
`DIR/SPLIT.array_record`), each record a serialised `tf.train.Example` holding the encoded
image (JPEG, PNG, ...) as bytes under `image` and its class as an int64 under `label`. The
records are read through grain's `ArrayRecordDataSource`, which pickles as paths, so that
grain's worker processes open the files themselves.
"""

import os
import re

import grain
import numpy as np

from natjax.data.examples import example_images
from natjax.data.types import Dataset, Split
from natjax.errors import UserError

_SHARD = re.compile(r"^(?P<stem>.*)-(?P<index>\d{5})-of-(?P<count>\d{5})$")


def missing_shards(paths: list[str]) -> list[str]:
    """The shards that `paths`' names (`...-00002-of-00004`) say exist but are not on disk:
    those absent from `paths` and those in it that no longer exist."""
    expected = set()
    for path in paths:
        shard = _SHARD.match(path)
        if shard is None:
            expected.add(path)
            continue
        count = int(shard["count"])
        expected.update(f"{shard['stem']}-{i:05d}-of-{count:05d}" for i in range(count))
    return sorted(p for p in expected if not os.path.exists(p))


def check_shards(paths: list[str], what: str) -> None:
    """One sentence for a missing shard of `what` (a split, named for the user)."""
    missing = missing_shards(paths)
    if missing:
        raise UserError(
            f"{what} lacks {len(missing)} ArrayRecord shard(s), {missing[0]} the first; copy "
            "the missing files back (or prepare the dataset again) and run the command again."
        )


def split_files(directory: str, split: str) -> list[str]:
    """`directory`'s ArrayRecord files of `split`, in shard order."""
    pattern = re.compile(rf"^(.*[-_.])?{re.escape(split)}\.array_record(-\d{{5}}-of-\d{{5}})?$")
    names = sorted(n for n in os.listdir(directory) if pattern.match(n))
    return [os.path.join(directory, n) for n in names]


class Examples:
    """Random access to `tf.train.Example` records: `examples[i]` is
    `{"image": bytes, "label": int}`."""

    def __init__(self, paths: list[str]):
        try:
            self._records = grain.sources.ArrayRecordDataSource(paths)
        except RuntimeError:  # What array_record raises for a file it cannot read.
            for path in paths:
                _open(path)
            raise

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, i: int) -> dict:
        from tensorflow_datasets.proto import tf_example_pb2  # No TensorFlow needed.

        features = tf_example_pb2.Example.FromString(self._records[i]).features.feature
        if "image" not in features or "label" not in features:
            raise UserError(
                f"record {i} has the features {sorted(features)}; natjax reads ArrayRecord "
                "files of tf.train.Example records with the encoded image under 'image' and "
                "the int64 class under 'label'."
            )
        return {
            "image": features["image"].bytes_list.value[0],
            "label": int(features["label"].int64_list.value[0]),
        }


def _open(path: str) -> None:
    """Opens one file, to name it in one sentence if it cannot be read."""
    try:
        grain.sources.ArrayRecordDataSource([path])
    except RuntimeError as e:
        raise UserError(
            f"{path} cannot be read as an ArrayRecord file ({e}); write or copy it again."
        ) from e


def load_array_record_dataset(
    directory: str,
    train_split: str,
    test_split: str,
    image_size: int,
    workers: int = 1,
    in_memory_bytes: int = 2 << 30,
) -> Dataset:
    """Both splits of the ArrayRecord files in `directory`: decoded at once where they fit in
    `in_memory_bytes`, else decoded on demand (in a training run, by grain's workers)."""
    if not os.path.isdir(directory):
        raise UserError(
            f"{directory} is not a directory of ArrayRecord files; pass "
            "--config.data.source=arrayrecord:DIR."
        )
    splits = {}
    for split in (train_split, test_split):
        paths = split_files(directory, split)
        if not paths:
            raise UserError(
                f"{directory} has no ArrayRecord file of split {split!r}; name them "
                f"NAME-{split}.array_record-00000-of-0000N (as tfds does) or {split}.array_record."
            )
        check_shards(paths, f"split {split!r} of {directory}")
        examples = Examples(paths)
        if not len(examples):
            raise UserError(f"split {split!r} of {directory} holds no record.")
        splits[split] = _read_split(examples, image_size, workers, in_memory_bytes)
    num_classes = 1 + max(int(s.labels.max(initial=0)) for s in splits.values())
    name = os.path.basename(directory.rstrip("/"))
    return Dataset(name, splits[train_split], splits[test_split], num_classes)


def _read_split(examples: Examples, image_size: int, workers: int, in_memory_bytes) -> Split:
    labels = np.asarray([examples[i]["label"] for i in range(len(examples))], np.int32)
    return Split(example_images(examples, image_size, workers, in_memory_bytes), labels)

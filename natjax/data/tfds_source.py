"""tensorflow-datasets by name.

Small datasets are read into memory. Large ones (ImageNet) stay on disk and are decoded per batch
through `tfds.data_source` (by grain's worker processes in a training run), which needs the
dataset prepared in the array_record format.
"""

import numpy as np

from natjax.data.array_record import check_shards
from natjax.data.examples import example_images
from natjax.data.types import Dataset, Split
from natjax.errors import UserError


def load_tfds_dataset(
    name: str,
    data_dir: str,
    train_split: str,
    test_split: str,
    image_size: int,
    workers: int = 1,
    in_memory_bytes: int = 2 << 30,
) -> Dataset:
    """Loads `name` from tensorflow-datasets, preparing it first if it is not prepared yet.
    A split whose decoded images fit in `in_memory_bytes` is decoded at once; a larger one
    stays ArrayRecord files, decoded on demand (in a training run, by grain's workers)."""
    builder = _prepared_builder(name, data_dir)
    num_classes, labels_of = _labels(name, builder.info.features)
    splits = {
        s: _read_split(builder, s, image_size, workers, labels_of, in_memory_bytes)
        for s in (train_split, test_split)
    }
    return Dataset(name, splits[train_split], splits[test_split], num_classes)


def _labels(name: str, features) -> tuple[int, object]:
    """The classes and `labels_of(example)`: an image's `label`, or for a multi-label dataset
    (VOC's), the multi-hot `[classes]` of its objects' labels (`objects/label`)."""
    if "label" in features:
        return features["label"].num_classes, lambda example: int(example["label"])
    if "objects" in features and "label" in features["objects"].feature:
        classes = features["objects"].feature["label"].num_classes

        def multi_hot(example) -> np.ndarray:
            hot = np.zeros(classes, np.int32)
            hot[np.asarray(example["objects"]["label"], np.int64)] = 1
            return hot

        return classes, multi_hot
    raise UserError(
        f"tensorflow-datasets' {name!r} has no 'label' feature nor objects' labels; natjax reads "
        "the class labels of each image, so give a labelled dataset."
    )


def _prepared_builder(name: str, data_dir: str):
    import tensorflow_datasets as tfds  # Imported here: it is slow and most runs do not need it.

    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except Exception as e:  # tfds raises several types for unknown names.
        raise UserError(f"tensorflow-datasets has no dataset {name!r} ({e}).") from e
    if not builder.is_prepared():
        try:
            builder.download_and_prepare(file_format="array_record")
        except Exception as e:
            raise UserError(
                f"tensorflow-datasets could not prepare {name!r} ({type(e).__name__}: {e}); "
                "prepare it where there is network access (or from its manual directory), "
                "or use --config.data.source=folder:PATH with an image folder."
            ) from e
    return builder


def _read_split(builder, split, image_size, workers, labels_of, in_memory_bytes) -> Split:
    check_shards(_shard_paths(builder, split), f"{builder.name}'s split {split!r}")
    try:
        source = builder.as_data_source(split=split)
    except Exception as e:
        raise UserError(
            f"{builder.name} split {split!r} cannot be read without TensorFlow ({e}); prepare it "
            "with `tfds build --file_format=array_record` or install natjax[tfds]."
        ) from e
    labels = np.asarray([labels_of(source[i]) for i in range(len(source))], np.int32)
    return Split(example_images(source, image_size, workers, in_memory_bytes), labels)


def _shard_paths(builder, split: str) -> list[str]:
    """The files tfds' record of `split` names (none where it cannot say: the reading fails
    on its own then)."""
    try:
        return [str(f.filename) for f in builder.info.splits[split].file_instructions]
    except Exception:  # noqa: BLE001 - a split tfds cannot resolve is reported when read.
        return []

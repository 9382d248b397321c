"""tensorflow-datasets by name.

Small datasets are read into memory. Large ones (ImageNet) stay on disk and are decoded per batch
through `tfds.data_source`, which needs the dataset prepared in the array_record format.
"""

import numpy as np
from PIL import Image

from natjax.data.decode import parallel_map
from natjax.data.folder import decode_image, fit_image
from natjax.data.types import Dataset, Split
from natjax.errors import UserError

_IN_MEMORY_BYTES = 2 << 30


class LazyImages:
    """Random-access uint8 images `[n, S, S, 3]`, decoded from a tfds data source on demand, on
    `workers` threads."""

    def __init__(self, source, image_size: int, workers: int = 1):
        self._source = source
        self._workers = workers
        self.shape = (len(source), image_size, image_size, 3)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        ids = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        size = self.shape[1]

        def fit(i: int) -> np.ndarray:
            return _fit(self._source[i]["image"], size)

        images = parallel_map(fit, [int(i) for i in ids.ravel()], self._workers)
        return np.stack(images).reshape(*ids.shape, size, size, 3)


def _fit(image, size: int) -> np.ndarray:
    """An example's image, decoded by tfds (an array) or still encoded (bytes), at `size`."""
    if isinstance(image, bytes):
        return decode_image(image, size)
    image = np.asarray(image)
    if image.shape[:2] == (size, size) and image.shape[-1] == 3:
        return image.astype(np.uint8)
    return fit_image(Image.fromarray(np.squeeze(image)), size)


def load_tfds_dataset(
    name: str, data_dir: str, train_split: str, test_split: str, image_size: int, workers: int = 1
) -> Dataset:
    """Loads `name` from tensorflow-datasets, preparing it first if it is not prepared yet."""
    builder = _prepared_builder(name, data_dir)
    num_classes, labels_of = _labels(name, builder.info.features)
    splits = {
        s: _read_split(builder, s, image_size, workers, labels_of)
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


def _read_split(builder, split: str, image_size: int, workers: int, labels_of) -> Split:
    try:
        source = builder.as_data_source(split=split)
    except Exception as e:
        raise UserError(
            f"{builder.name} split {split!r} cannot be read without TensorFlow ({e}); prepare it "
            "with `tfds build --file_format=array_record` or install natjax[tfds]."
        ) from e
    labels = np.asarray([labels_of(source[i]) for i in range(len(source))], np.int32)
    images = LazyImages(source, image_size, workers)
    if np.prod(images.shape) <= _IN_MEMORY_BYTES:
        images = np.concatenate([images[i : i + 4096] for i in range(0, len(images), 4096)])
    return Split(images, labels)

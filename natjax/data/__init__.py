"""Datasets for NAT: every source gives in-memory (or lazily decoded) uint8 images with ids."""

import logging
import os

import numpy as np
from ml_collections import ConfigDict

from natjax.data.array_record import load_array_record_dataset
from natjax.data.convert import convert_dataset
from natjax.data.decode import default_workers
from natjax.data.folder import load_folder_dataset
from natjax.data.idx import DEBIAN_FASHION_MNIST_DIR, load_idx_dataset
from natjax.data.pipeline import epoch_ids, num_steps_per_epoch
from natjax.data.tfds_source import load_tfds_dataset
from natjax.data.types import Dataset, Split
from natjax.errors import UserError

__all__ = [
    "Dataset",
    "Split",
    "check_labelled",
    "convert_dataset",
    "default_workers",
    "epoch_ids",
    "load",
    "num_steps_per_epoch",
]


def load(config: ConfigDict) -> Dataset:
    """Loads `config.data` and keeps `max_*_examples` of each split (`subset`)."""
    dataset = _load_source(config)
    _check_classes(dataset)
    return Dataset(
        dataset.name,
        _subset(dataset.train, config.max_train_examples, config),
        _subset(dataset.test, config.max_test_examples, config),
        dataset.num_classes,
    )


def check_labelled(dataset: Dataset) -> None:
    """Every protocol scores labels: a dataset needs at least two classes, in both splits."""
    _check_classes(dataset)
    for name, split in (("training", dataset.train), ("test", dataset.test)):
        labels = split.labels
        present = np.flatnonzero(labels.sum(0)) if labels.ndim == 2 else np.unique(labels)
        if len(split) == 0 or len(present) < 2:
            raise UserError(
                f"the {name} split of {dataset.name!r} holds images of fewer than two classes; "
                "the protocols need labelled images of at least two."
            )


def _check_classes(dataset: Dataset) -> None:
    """Every source is labelled, and a probe on one class scores 100% whatever the encoder
    learnt: such a dataset is refused before a run spends its time on it."""
    if dataset.num_classes < 2:
        raise UserError(
            f"the dataset {dataset.name!r} has {dataset.num_classes} class; the protocols score "
            "labels of at least two classes, so give a dataset of two or more (an image "
            "folder: a folder per class in each split)."
        )


def _subset(split: Split, n: int, config: ConfigDict) -> Split:
    """`n` examples of `split` (all when 0): drawn by `subset_seed` ("random"), which keeps
    every class of a source stored class by class, or the first `n` ("first")."""
    if config.subset == "first":
        return split.head(n)
    return split.sample(n, config.subset_seed)


def _decoding(config: ConfigDict) -> dict:
    """How a source of image files decodes: its workers, and the most bytes of decoded images
    it holds in memory (more stay files, decoded per batch)."""
    return {
        "workers": config.decode_workers or default_workers(),
        "in_memory_bytes": int(config.in_memory_gb * 2**30),
    }


def _load_source(config: ConfigDict) -> Dataset:
    source = config.source
    kind, _, path = source.partition(":")
    if kind == "auto":
        if config.name == "fashion_mnist" and os.path.isdir(DEBIAN_FASHION_MNIST_DIR):
            return load_idx_dataset(DEBIAN_FASHION_MNIST_DIR)
        kind = "tfds"
    if kind == "idx" and path:
        return load_idx_dataset(path, config.name)
    if kind == "folder" and path:
        dataset, skipped = load_folder_dataset(
            path,
            config.train_split,
            config.test_split,
            config.image_size,
            **_decoding(config),
        )
        if skipped:
            logging.warning("Skipped %d image files that could not be decoded.", skipped)
        return dataset
    if kind == "arrayrecord" and path:
        return load_array_record_dataset(
            path,
            config.train_split,
            config.test_split,
            config.image_size,
            **_decoding(config),
        )
    if kind == "tfds":
        return _load_tfds(config)
    raise UserError(
        f"data.source={source!r} is not a data source; use auto, tfds, idx:DIR, folder:PATH "
        "or arrayrecord:DIR."
    )


def _load_tfds(config: ConfigDict) -> Dataset:
    try:
        return load_tfds_dataset(
            config.name,
            config.tfds_data_dir,
            config.train_split,
            config.test_split,
            config.image_size,
            **_decoding(config),
        )
    except UserError as e:
        if config.name == "fashion_mnist":
            raise UserError(
                f"{e} Fashion-MNIST also loads with no network from Debian's package: "
                "`sudo apt-get install dataset-fashion-mnist`."
            ) from e
        raise

"""The kNN monitor: a cheap weighted-kNN accuracy of the current encoder on a held-out slice,
every `eval.monitor_every_epochs` epochs, by the kNN protocol's rule (`knn.predict`) in one
compiled program on the devices."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from ml_collections import ConfigDict

from natjax.data import Dataset, Split
from natjax.evaluation import knn
from natjax.models import NATModel, features
from natjax.models.layers import l2_normalize
from natjax.parallel.sharding import DATA_AXIS, chunk_size


def monitor_subsets(config: ConfigDict, dataset: Dataset) -> tuple[Split, Split]:
    """The monitor's bank and queries: random subsets, since some sources (image folders) are
    stored class by class and their first images would all share a label."""
    return (
        dataset.train.sample(config.eval.monitor_train_examples, config.seed),
        dataset.test.sample(config.eval.monitor_test_examples, config.seed),
    )


class KnnMonitor:
    """Weighted kNN top-1 of the current encoder: `eval.monitor_train_examples` training images
    as the labelled bank and `eval.monitor_test_examples` test images as queries, both drawn
    once by the run's seed (`monitor_subsets`).

    The images and labels go to the devices once, split over the mesh's data axis; each call is
    one compiled program (encode every chunk, unit-normalise, vote) on the train state's own
    replicated variables, and one scalar comes back.
    """

    def __init__(
        self,
        config: ConfigDict,
        model: NATModel,
        dataset: Dataset,
        crop_size: int,
        mesh: jax.sharding.Mesh,
    ):
        bank, queries = monitor_subsets(config, dataset)
        chunk = chunk_size(config.eval.batch_size, mesh.devices.size)
        self._bank = _put_chunked(bank, chunk, mesh)
        self._queries = _put_chunked(queries, chunk, mesh)
        self._num_queries = len(queries)
        self._correct = jax.jit(
            functools.partial(
                _knn_correct,
                model=model,
                crop_size=crop_size,
                num_classes=dataset.num_classes,
                k=min(config.eval.knn_k, len(bank)),
                temperature=config.eval.knn_temperature,
            )
        )

    def __call__(self, variables: dict) -> float:
        return int(self._correct(variables, self._bank, self._queries)) / self._num_queries


def _put_chunked(split: Split, chunk: int, mesh: jax.sharding.Mesh) -> dict:
    """`split` padded to whole chunks, as `{"images": [m, chunk, H, W, C], "labels": [m, chunk],
    "valid": [m, chunk]}` with each chunk split over the data axis (every process holds the
    same subset and places its own devices' rows)."""
    n = len(split)
    m = -(-n // chunk)
    pad = m * chunk - n
    images = np.asarray(split.images)
    arrays = {
        "images": np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)]),
        "labels": np.concatenate([split.labels, np.zeros(pad, split.labels.dtype)]),
        "valid": np.arange(m * chunk) < n,
    }
    sharding = NamedSharding(mesh, PartitionSpec(None, DATA_AXIS))

    def put(x):
        x = x.reshape(m, chunk, *x.shape[1:])
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return {name: put(x) for name, x in arrays.items()}


def _knn_correct(variables, bank, queries, *, model, crop_size, num_classes, k, temperature):
    """How many valid queries weighted kNN over the valid bank rows classifies right."""

    def encode_all(chunks):
        def one(images):
            return l2_normalize(features.encode(model, variables, images, crop_size))

        encoded = jax.lax.map(one, chunks["images"])  # [m, chunk, D]
        return encoded.reshape(-1, encoded.shape[-1])

    bank_z, query_z = encode_all(bank), encode_all(queries)
    pred = knn.predict(
        query_z,
        bank_z,
        bank["labels"].reshape(-1),
        k=k,
        temperature=temperature,
        num_classes=num_classes,
        bank_mask=bank["valid"].reshape(-1),
    )
    right = (pred == queries["labels"].reshape(-1)) & queries["valid"].reshape(-1)
    return jnp.sum(right)

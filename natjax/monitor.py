"""What a run records while it trains: scalars to `metrics.jsonl` and TensorBoard (process 0
only), and the kNN monitor, a cheap weighted-kNN accuracy on a held-out slice every epoch."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from ml_collections import ConfigDict

from natjax import features, probes
from natjax.data import Dataset, Split
from natjax.models import NATModel
from natjax.sharding import DATA_AXIS

METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    """Appends `{"step": s, name: value, ...}` lines to `DIR/metrics.jsonl` and the same scalars
    to TensorBoard events under `DIR/tensorboard/` (a resumed run appends; a step recorded twice
    keeps its last value for `read_metrics`)."""

    def __init__(self, workdir: str):
        self._enabled = jax.process_index() == 0
        if self._enabled:
            from tensorboardX import SummaryWriter

            self._lines = open(os.path.join(workdir, METRICS_FILE), "a")  # noqa: SIM115
            self._board = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def write(self, step: int, **scalars: float) -> None:
        if not self._enabled:
            return
        self._lines.write(json.dumps({"step": step, **scalars}) + "\n")
        self._lines.flush()
        for name, value in scalars.items():
            self._board.add_scalar(name, value, step)

    def close(self) -> None:
        if self._enabled:
            self._lines.close()
            self._board.close()


def read_metrics(workdir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each scalar's `(steps, values)` from `metrics.jsonl`, the last record of a step winning."""
    series: dict[str, dict[int, float]] = {}
    path = os.path.join(workdir, METRICS_FILE)
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                step = record.pop("step")
                for name, value in record.items():
                    series.setdefault(name, {})[step] = value
    return {
        name: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)]))
        for name, points in series.items()
    }


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
        chunk = _chunk_size(config.eval.batch_size, mesh.devices.size)
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


def _chunk_size(batch_size: int, devices: int) -> int:
    """The evaluation batch rounded up to a multiple of the device count."""
    return -(-batch_size // devices) * devices


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
            return probes.unit(features.encode(model, variables, images, crop_size))

        encoded = jax.lax.map(one, chunks["images"])  # [m, chunk, D]
        return encoded.reshape(-1, encoded.shape[-1])

    bank_z, query_z = encode_all(bank), encode_all(queries)
    labels = jax.nn.one_hot(bank["labels"].reshape(-1), num_classes)
    predict = functools.partial(probes.knn_predict, k=k, temperature=temperature)
    pred = predict(query_z, bank_z, labels, train_mask=bank["valid"].reshape(-1))
    right = (pred == queries["labels"].reshape(-1)) & queries["valid"].reshape(-1)
    return jnp.sum(right)

"""What a run records while it trains: scalars to `metrics.jsonl` and TensorBoard (process 0
only), and the kNN monitor, a cheap weighted-kNN accuracy on a held-out slice every epoch."""

import json
import os

import jax
import numpy as np
from ml_collections import ConfigDict

from natjax import features, probes
from natjax.data import Dataset, Split
from natjax.models import NATModel

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
    once by the run's seed (`monitor_subsets`); the encoder compiles once."""

    def __init__(self, config: ConfigDict, model: NATModel, dataset: Dataset, crop_size: int):
        self._config = config
        self._bank, self._queries = monitor_subsets(config, dataset)
        self._classes = dataset.num_classes
        self._encode = features.make_encode_fn(model, crop_size)

    def __call__(self, variables: dict) -> float:
        batch = self._config.eval.batch_size
        bank = features.extract(self._encode, variables, self._bank.images, batch)
        queries = features.extract(self._encode, variables, self._queries.images, batch)
        return probes.knn_top1(
            bank,
            self._bank.labels,
            queries,
            self._queries.labels,
            self._classes,
            k=min(self._config.eval.knn_k, len(self._bank)),
            temperature=self._config.eval.knn_temperature,
        )

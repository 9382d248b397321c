"""The scalars a run records while it trains: `metrics.jsonl` and TensorBoard events (process
0 only), read back for the training curves."""

import json
import os

import jax
import numpy as np

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

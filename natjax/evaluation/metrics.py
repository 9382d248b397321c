"""The scalars a run records while it trains: `metrics.jsonl` and TensorBoard events (process
0 only), read back for the training curves."""

import json
import os

import jax
import numpy as np

METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    """Appends `{"step": s, name: value, ...}` lines to `DIR/metrics.jsonl` and the same scalars
    to TensorBoard events under `DIR/tensorboard/`. A run resumed from step `start` first drops
    the lines of the steps after it (they run again) and asks TensorBoard to purge their events,
    so each logged step has one line across resumes."""

    def __init__(self, workdir: str, start: int = 0):
        self._enabled = jax.process_index() == 0
        if self._enabled:
            from tensorboardX import SummaryWriter

            path = os.path.join(workdir, METRICS_FILE)
            _keep_up_to(path, start)
            self._lines = open(path, "a")  # noqa: SIM115
            purge = {"purge_step": start + 1} if start > 0 else {}
            self._board = SummaryWriter(os.path.join(workdir, "tensorboard"), **purge)

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


def _records(path: str):
    """The records of `path`, skipping a line cut short when a run was killed mid-write."""
    with open(path) as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def _keep_up_to(path: str, start: int) -> None:
    """Rewrites `path` (atomically) with only the records of steps up to `start`."""
    if not os.path.exists(path):
        return
    kept = [r for r in _records(path) if r.get("step", 0) <= start]
    with open(path + ".tmp", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    os.replace(path + ".tmp", path)


def read_metrics(workdir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each scalar's `(steps, values)` from `metrics.jsonl`, the last record of a step winning."""
    series: dict[str, dict[int, float]] = {}
    path = os.path.join(workdir, METRICS_FILE)
    if os.path.exists(path):
        for record in _records(path):
            step = record.pop("step")
            for name, value in record.items():
                series.setdefault(name, {})[step] = value
    return {
        name: (np.array(sorted(points)), np.array([points[s] for s in sorted(points)]))
        for name, points in series.items()
    }

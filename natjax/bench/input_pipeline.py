"""`python -m natjax.bench input`: can the input pipeline keep up with the step?

Times, side by side on the same run (a preset of `configs/nat.py` on its real data):
- the pipeline alone: the next global batch's rows gathered (decoded by grain's worker
  processes, for sources not in memory) on the host and placed on the devices
  (`training.batches` + `sharding.put_batch`); the random crops, flips and the Sobel filter
  run on the device, inside the step;
- the step alone (NAT with re-assignment) on one batch already on the devices;
- the loop as training runs it: the step on batches the pipeline's background thread put on
  the devices ahead of it (`natjax.data.grain_batches`, `PREFETCH_BATCHES` deep).
Each figure is the median of alternating rounds of 10 batches, after compilation.
"""

import dataclasses
import statistics
import tempfile
import time

import jax
import numpy as np

from natjax import data, training
from natjax.bench.timing import load_config
from natjax.data import Split
from natjax.objectives import create_train_state
from natjax.parallel import sharding
from natjax.training.run import input_shape

PRESETS = ("default",)
FILE_SOURCES = ("folder", "arrayrecord", "tfds")


def _rounds(fns: dict, steps: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each `fn` over `rounds` alternating rounds of `steps` calls,
    blocking only on each round's last output (as the training loop, which dispatches ahead)."""
    for fn in fns.values():
        jax.block_until_ready(fn())  # Compile and warm up.
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(steps - 1):
                fn()
            jax.block_until_ready(fn())
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


class RowsInWorkers:
    """Images in memory that grain's worker processes read row by row, as they read files:
    anything but a numpy array takes that path (`natjax.data.grain_batches`)."""

    def __init__(self, images: np.ndarray):
        self.images, self.shape, self.dtype = images, images.shape, images.dtype

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> np.ndarray:
        return self.images[index]


def bench_config(config, steps: int = 10, rounds: int = 5, rows_in_workers=False) -> dict:
    """Images/s of the pipeline, the step and both together for the run `config` describes;
    with `rows_in_workers`, its images in memory read row by row by grain's workers."""
    with tempfile.TemporaryDirectory() as workdir:
        run = training.setup(config, workdir)
    if rows_in_workers:
        train = run.dataset.train
        train = Split(RowsInWorkers(np.asarray(train.images)), train.labels)
        run = dataclasses.replace(run, dataset=dataclasses.replace(run.dataset, train=train))
    b = config.batch_size
    rows = {"it": training.batches(run, 0, put=False, ahead=0)}

    def pipeline():
        """The next global batch on the devices (from the start again after the last)."""
        batch = next(rows["it"], None)
        if batch is None:
            rows["it"] = training.batches(run, 0, put=False, ahead=0)
            batch = next(rows["it"])
        return sharding.put_batch(batch, run.mesh, b)

    state = create_train_state(run.model, run.tx, 0, len(run.dataset.train), input_shape(run))
    holder = {"state": jax.device_put(state, sharding.state_sharding(run.mesh))}
    step_fn, fixed = training.compile_step(run), pipeline()

    def step(batch=None):
        holder["state"], metrics = step_fn(holder["state"], fixed if batch is None else batch)
        return metrics

    def endless():
        while True:
            yield from training.batches(run, 0)

    ready = endless()
    fns = {"pipeline": pipeline, "step": step, "loop": lambda: step(next(ready))}
    try:
        ips = {name: b / s for name, s in _rounds(fns, steps, rounds).items()}
    finally:
        ready.close()
        rows["it"].close()
    return {
        "dataset": config.data.name,
        "encoder": config.model.encoder,
        "batch": b,
        "images": _held(run),
        "images_per_second": ips,
        "pipeline_vs_step": ips["pipeline"] / ips["step"],
        "loop_vs_step": ips["loop"] / ips["step"],
    }


def _held(run) -> str:
    """Where the training images are: in memory (gathered, or read by grain's workers), or
    files decoded by grain's workers."""
    images = run.dataset.train.images
    if isinstance(images, np.ndarray):
        return "in memory"
    workers = run.config.data.decode_workers or data.default_workers()
    if isinstance(images, RowsInWorkers):
        return f"in memory, rows read by {workers} processes"
    return f"decoded by {workers} processes"


def run(presets=PRESETS, data_source: str | None = None) -> list[dict]:
    """Each preset's rows, read from `data_source` (its `data.source`) when given: its images
    in memory gathered (as training reads them) and read row by row by grain's worker
    processes (whether grain could take the gather's place); for a source of files
    (`folder:`, `arrayrecord:`, `tfds`), also the same images left as files
    (`data.in_memory_gb=0`), decoded per batch by grain's workers."""
    rows = []
    for preset in presets:
        config = load_config(preset)
        if data_source:
            config.data.source = data_source
        rows.append(bench_config(config))
        rows.append(bench_config(config, rows_in_workers=True))
        if data_source and data_source.split(":")[0] in FILE_SOURCES:
            config.data.in_memory_gb = 0.0
            rows.append(bench_config(config))
    return rows


def format_table(rows: list[dict]) -> str:
    head = "dataset | images | encoder | batch | pipeline img/s | step img/s | loop img/s"
    head += " | pipeline / step | loop / step"
    lines = [head, " | ".join(["---"] * 9)]
    for r in rows:
        ips = r["images_per_second"]
        lines.append(
            f"{r['dataset']} | {r.get('images', 'in memory')} | {r['encoder']} | {r['batch']} | "
            f"{ips['pipeline']:.0f} | "
            f"{ips['step']:.0f} | {ips['loop']:.0f} | {r['pipeline_vs_step']:.1f}x | "
            f"{r['loop_vs_step']:.3f}"
        )
    return "\n".join(lines)

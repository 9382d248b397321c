"""`python -m natjax.bench decode`: images/s of the on-demand image-folder source, decoded
by threads (`images[ids]`, grain's reading threads: how the probes read a split) and by
training's pipeline (`natjax.data.grain_batches.train_batches`: grain's worker processes), at
the same worker counts, on a synthetic ImageNet-like folder it writes itself (256 px JPEGs of
smooth random colour fields, 10 classes): the same batches of a run's order for both. Crops and
flips are taken later, on the device.

Each row is timed after untimed batches: the first (its seconds are the start-up column, grain's
worker processes starting included) and enough more to drain what grain's workers decoded
meanwhile, so that the rate is the steady one."""

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator

import numpy as np
from PIL import Image

from natjax.data.folder import load_folder_dataset
from natjax.data.grain_batches import StepIds, train_batches

WORKERS = (1, 2, 4)


def write_folder(root: str, n: int, side: int = 256, classes: int = 10, seed: int = 0) -> str:
    """`root/train/<class>/<i>.jpg` and a small `root/test`: `n` JPEGs (quality 90) of
    upsampled random colour fields, whose size and decode cost resemble photographs'."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", n), ("test", classes)):
        for i in range(count):
            folder = os.path.join(root, split, f"c{i % classes}")
            os.makedirs(folder, exist_ok=True)
            coarse = rng.integers(0, 256, (side // 8, side // 8, 3), np.uint8)
            field = Image.fromarray(coarse).resize((side, side), Image.BICUBIC)
            noise = rng.integers(-12, 13, (side, side, 3))
            pixels = np.clip(np.asarray(field, np.int32) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, f"{i}.jpg"), quality=90)
    return root


def untimed_batches(workers: int) -> int:
    """The first batch, then three per worker: grain keeps up to one batch in each worker's
    queue, one in the interleave's buffer and one being decoded."""
    return 1 + 3 * workers


def time_batches(batches: Iterator[np.ndarray], untimed: int, timed: int) -> dict:
    """Images/s of `timed` batches after `untimed` ones, the seconds to the first, and the last
    batch's SHA-1, by which pipelines given the same ids can be compared. The iterator's end is
    not awaited: grain's takes a while to find that every worker has finished."""
    start = time.perf_counter()
    next(batches)
    startup = time.perf_counter() - start
    for _ in range(untimed - 1):
        next(batches)
    start = time.perf_counter()
    for _ in range(timed):
        last = next(batches)
    seconds = time.perf_counter() - start
    return {
        "startup_seconds": startup,
        "images_per_second": timed * len(last) / seconds,
        "last_batch_sha1": hashlib.sha1(np.ascontiguousarray(last)).hexdigest(),
    }


def bench_workers(root: str, workers: int, side: int, batch: int, batches: int) -> list[dict]:
    """Both pipelines' rows at `workers`, reading the same batches of `root/train`: a run's
    first steps, seed 0."""
    dataset, _ = load_folder_dataset(root, "train", "test", side, workers, in_memory_bytes=0)
    split, untimed = dataset.train, untimed_batches(workers)
    steps, step_ids = range(untimed + batches), StepIds(len(dataset.train), batch, seed=0)
    threads = time_batches((split.images[step_ids(s)] for s in steps), untimed, batches)
    ready = train_batches(split, batch, 0, steps, workers=workers, ahead=0)
    try:
        processes = time_batches((b["images"] for b in ready), untimed, batches)
    finally:
        ready.close()  # Stops the worker processes now, not at garbage collection.
    return [
        {"workers": workers, "pipeline": "threads", **threads},
        {"workers": workers, "pipeline": "grain processes", **processes},
    ]


def run(workers=WORKERS, n: int = 1024, side: int = 256, batch: int = 256, batches: int = 16):
    with tempfile.TemporaryDirectory() as root:
        write_folder(root, n, side)
        size = _mean_file_bytes(os.path.join(root, "train"))
        rows = [r for w in workers for r in bench_workers(root, w, side, batch, batches)]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    common = {"side": side, "cores": cores, "mean_file_bytes": size}
    # The identity first, as a recorded case's file is named by the row's first words.
    return [{"workers": r["workers"], "pipeline": r["pipeline"], **common, **r} for r in rows]


def _mean_file_bytes(folder: str) -> float:
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files]
    return sum(sizes) / len(sizes)


def format_table(rows: list[dict]) -> str:
    """One line a row; the ratios are against the same pipeline's 1 worker and against the
    threads at the same worker count, and "same pixels" compares their last batches."""
    lines = [
        "pipeline | workers | cores | px | mean JPEG | start-up s | images/s | vs 1 worker | "
        "vs threads | same pixels"
    ]
    lines.append("---|---|---|---|---|---|---|---|---|---")
    for r in rows:
        one = _match(rows, r["pipeline"], 1)
        threads = _match(rows, "threads", r["workers"])
        lines.append(
            f"{r['pipeline']} | {r['workers']} | {r['cores']} | {r['side']} | "
            f"{r['mean_file_bytes'] / 1e3:.0f} KB | {r['startup_seconds']:.2f} | "
            f"{r['images_per_second']:,.0f} | {_ratio(r, one)} | {_ratio(r, threads)} | "
            f"{_same(r, threads)}"
        )
    return "\n".join(lines)


def _match(rows: list[dict], pipeline: str, workers: int) -> dict | None:
    return next((r for r in rows if (r["pipeline"], r["workers"]) == (pipeline, workers)), None)


def _ratio(row: dict, base: dict | None) -> str:
    return f"{row['images_per_second'] / base['images_per_second']:.2f}x" if base else "–"


def _same(row: dict, base: dict | None) -> str:
    return ("yes" if row["last_batch_sha1"] == base["last_batch_sha1"] else "NO") if base else "–"

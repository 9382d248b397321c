"""`python -m natjax.bench decode`: images/s of the on-demand image-folder source by decoding
threads, on a synthetic ImageNet-like folder it writes itself (256 px JPEGs of smooth random
colour fields, 10 classes), read as training reads it: random batches of ids, each decoded on
the threads (`natjax.data.decode`). Crops and flips are taken later, on the device."""

import os
import tempfile
import time

import numpy as np
from PIL import Image

from natjax.data.folder import load_folder_dataset

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


def bench_workers(root: str, workers: int, side: int, batch: int, batches: int) -> dict:
    dataset, _ = load_folder_dataset(root, "train", "test", side, workers, in_memory_bytes=0)
    images = dataset.train.images
    rng = np.random.default_rng(0)
    images[rng.integers(0, len(images), batch)]  # Starts the threads.
    start = time.perf_counter()
    for _ in range(batches):
        images[np.sort(rng.choice(len(images), batch, replace=False))]
    seconds = time.perf_counter() - start
    return {"workers": workers, "images_per_second": batch * batches / seconds}


def run(workers=WORKERS, n: int = 1024, side: int = 256, batch: int = 256, batches: int = 4):
    with tempfile.TemporaryDirectory() as root:
        write_folder(root, n, side)
        size = _mean_file_bytes(os.path.join(root, "train"))
        rows = [bench_workers(root, w, side, batch, batches) for w in workers]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [{**r, "side": side, "cores": cores, "mean_file_bytes": size} for r in rows]


def _mean_file_bytes(folder: str) -> float:
    sizes = [os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files]
    return sum(sizes) / len(sizes)


def format_table(rows: list[dict]) -> str:
    lines = ["decoding threads | cores | px | mean JPEG | images/s | vs 1 thread"]
    lines.append("---|---|---|---|---|---")
    one = next((r["images_per_second"] for r in rows if r["workers"] == 1), None)
    for r in rows:
        ratio = f"{r['images_per_second'] / one:.2f}x" if one else "–"
        lines.append(
            f"{r['workers']} | {r['cores']} | {r['side']} | {r['mean_file_bytes'] / 1e3:.0f} KB | "
            f"{r['images_per_second']:,.0f} | {ratio}"
        )
    return "\n".join(lines)

"""Timing helpers shared by the benchmarks."""

import importlib.util
import os
import statistics
import time
from collections.abc import Callable

import jax


def median_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each callable, run alternately (after one warm-up call each)."""
    for fn in fns.values():
        jax.block_until_ready(fn())  # Compile and warm up.
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine() -> str:
    """The device the default backend runs on, in words."""
    device = jax.devices()[0]
    return f"{device.platform}: {device.device_kind} x{jax.device_count()}"


CONFIG_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "nat.py")


def load_config(preset: str):
    """A preset of the repository's `configs/nat.py`, loaded by path as `natjax.main` does."""
    spec = importlib.util.spec_from_file_location("natjax_config", CONFIG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(preset)

"""Images decoded on demand: the array-like `[n, S, S, 3]` uint8 of the sources too large to
hold in memory, and the ordered parallel map that decodes many at once.

One id (`images[i]`) is decoded in the caller's thread: that is how a training run's grain
worker processes read it (`natjax.data.grain_batches`). Many (`images[ids]`, `images[a:b]`,
as the probes read a split) are decoded on grain's reading threads: PIL releases the GIL while
it decodes and resizes, so threads scale with the cores there.
"""

import logging
import os
from collections.abc import Callable, Sequence

import grain
import numpy as np


def default_workers() -> int:
    """Decoding workers when none are asked for: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # Not on Linux.
        return max(1, os.cpu_count() or 1)


def map_in_order(fn: Callable, items: Sequence, workers: int) -> list:
    """`[fn(x) for x in items]`, on `workers` of grain's reading threads (in the caller's
    thread for 1)."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    # Boxed: grain drops elements that are None, and `fn` may return None.
    boxed = grain.MapDataset.source(items).map(lambda x: (fn(x),))
    read = grain.ReadOptions(num_threads=workers, prefetch_buffer_size=4 * workers)
    return [value for (value,) in boxed.to_iter_dataset(read)]


class DecodedImages:
    """Random-access uint8 images `[n, S, S, 3]`: row `i` is `decode(i)`, computed when read.

    A row that fails to decode (`OSError`, `ValueError`) reads as black, with a warning the
    first time, which counts them, so a bad file found late does not end a long run (its id
    keeps its place)."""

    def __init__(self, decode: Callable[[int], np.ndarray], n: int, size: int, workers: int):
        self._decode = decode
        self._workers = workers
        self._undecodable: set[int] = set()
        self.shape = (n, size, size, 3)
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.shape[0]

    def _row(self, i: int) -> np.ndarray:
        try:
            return self._decode(i)
        except (OSError, ValueError) as e:
            if i not in self._undecodable:  # Once an id in each process, however often read.
                self._undecodable.add(i)
                logging.warning(
                    "Image %d cannot be decoded (%s); it reads as black (%d such image(s) so "
                    "far in this process).",
                    i,
                    e,
                    len(self._undecodable),
                )
            return np.zeros(self.shape[1:], np.uint8)

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):  # One row, as grain reads a source: no copy.
            return self._row(range(len(self))[index])  # As an array: -1 is the last, n fails.
        ids = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        rows = map_in_order(self._row, [int(i) for i in ids.ravel()], self._workers)
        if not rows:
            return np.zeros((0, *self.shape[1:]), np.uint8)
        return np.stack(rows).reshape(*ids.shape, *self.shape[1:])

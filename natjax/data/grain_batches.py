"""Batches of an on-demand image source decoded by grain in worker processes.

The source is any random-access uint8 `[n, S, S, 3]` whose `source[i]` is one image, such as an
image folder's `DecodedImages`: it meets grain's `RandomAccessDataSource` protocol (`__len__`,
`__getitem__`). Processes, not threads, so that the Python around each decode does not hold the
other workers back on the GIL. Grain starts them with `spawn` (safe after JAX has started its
threads) and sends each a pickled copy of the source. Worker `w` of `W` decodes whole batches
`w, w + W, ...`, and they are taken in turn, so batches come back in the order of `ids`.
"""

import grain
import numpy as np
from absl import flags


def read_batches(source, ids: np.ndarray, workers: int, buffer: int = 1) -> grain.IterDataset:
    """uint8 `[b, S, S, 3]` batches `source[ids[k]]`, k = 0, 1, ..., from int `ids` `[steps, b]`,
    each decoded in one of `workers` processes (in this process for 0), each of which keeps up
    to `buffer` batches ready.

    A worker decodes on its main thread (`num_threads=0`): one core each, and none of grain's
    default read-ahead of 500 elements, which here are whole batches."""
    _parse_absl_flags()
    ids = np.asarray(ids)
    rows = grain.MapDataset.source(ids.ravel().tolist()).map(source.__getitem__)
    batches = rows.batch(ids.shape[1])
    read = batches.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
    return read.mp_prefetch(
        grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=buffer)
    )


def _parse_absl_flags() -> None:
    """Grain 0.2.18, once JAX's profiler is loaded, reads its absl flag
    `grain_enable_multiprocess_worker_profiling` as it starts workers, and fails where the
    program (the bench, pytest) did not start with `absl.app`: there, flags take their defaults."""
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()

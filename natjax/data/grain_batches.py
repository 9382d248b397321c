"""A run's training batches as a grain pipeline, in the run's order: a pure function of
(seed, step).

Element k of the pipeline from step `start` is step `start + k`'s batch: this process's rows
(`rows`, its devices' block) of the global batch `epoch_ids(n, b, seed, epoch)[offset]`. The
position therefore needs no iterator state: a resumed run builds the pipeline from its
checkpoint's step, and no grain state goes into the checkpoint (it would hold nothing that
`(seed, step)` does not give).

- Images in memory: one vectorised gather (`images[ids]`) per batch, in this process.
- Images decoded on demand (an image folder too large for memory, a tfds ArrayRecord source,
  ArrayRecord files): each row is read and decoded in one of grain's worker processes, which
  take whole batches in turn (worker `w` of `W`: batches `w, w + W, ...`), so the batches come
  back in order. Processes, not threads: the Python around each decode does not hold the other
  workers back on the GIL. Grain starts them with `spawn` (safe after JAX has started its
  threads) and sends each a pickled copy of the source.

Either way a background thread puts the next batches on the devices while the step runs.
"""

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator

import grain
import numpy as np
from absl import flags

from natjax.data.pipeline import epoch_ids, num_steps_per_epoch
from natjax.data.types import Split
from natjax.errors import UserError

_WORKER_DIED = re.compile(r"Worker process was terminated unexpectedly with exit code (-?\d+)")


class StepIds:
    """This process's ids of step `s`'s global batch: `epoch_ids(...)[offset][rows]`. It keeps
    the latest epoch's order, so a pipeline computes each epoch's permutation once."""

    def __init__(self, n: int, batch_size: int, seed: int, rows: slice = slice(None)):
        self._n, self._batch_size, self._seed, self._rows = n, batch_size, seed, rows
        self._steps_per_epoch = num_steps_per_epoch(n, batch_size)
        self._epoch, self._ids = None, None

    def __call__(self, step: int) -> np.ndarray:
        epoch, offset = divmod(int(step), self._steps_per_epoch)
        if epoch != self._epoch:
            ids = epoch_ids(self._n, self._batch_size, self._seed, epoch)
            self._epoch, self._ids = epoch, ids[:, self._rows]
        return self._ids[offset]


class _Gather:
    """Step `s`'s batch of images held in memory: one vectorised gather."""

    def __init__(self, split: Split, step_ids: StepIds, labelled: bool):
        self._split, self._step_ids, self._labelled = split, step_ids, labelled

    def __call__(self, step: int) -> dict[str, np.ndarray]:
        ids = self._step_ids(step)
        batch = {"images": np.asarray(self._split.images[ids]), "ids": ids}
        if self._labelled:
            batch["labels"] = np.asarray(self._split.labels[ids])
        return batch


class _Row:
    """Row `r` of the flattened batches from step 0 (`r = step * b + position`): one image
    read and decoded by `split.images[i]`, in a worker process."""

    def __init__(self, split: Split, step_ids: StepIds, rows_per_step: int, labelled: bool):
        self._split, self._step_ids, self._labelled = split, step_ids, labelled
        self._rows_per_step = rows_per_step

    def __call__(self, r: int) -> dict[str, np.ndarray]:
        step, position = divmod(int(r), self._rows_per_step)
        i = self._step_ids(step)[position]
        row = {"images": np.asarray(self._split.images[int(i)]), "ids": i}
        if self._labelled:
            row["labels"] = np.asarray(self._split.labels[i])
        return row


def train_batches(
    split: Split,
    batch_size: int,
    seed: int,
    steps: range,
    rows: slice = slice(None),
    labelled: bool = False,
    workers: int = 0,
    put: Callable | None = None,
    ahead: int = 2,
) -> Iterator[dict]:
    """This process's rows of the global batches of `steps`, in order: `{"images", "ids"}`
    (and `"labels"` if `labelled`), as host arrays or, through `put`, on the devices, kept up
    to `ahead` batches ready by a background thread (none for 0).

    An in-memory `split.images` (a numpy array) is gathered here; any other random-access
    source is decoded row by row in `workers` processes (here, for 0). Closing the iterator
    stops the thread and the workers. A worker that dies stops the iterator with a
    `UserError` naming it."""
    step_ids = StepIds(len(split), batch_size, seed, rows)
    if isinstance(split.images, np.ndarray):
        batches = grain.MapDataset.source(steps).map(_Gather(split, step_ids, labelled))
        dataset = batches.to_iter_dataset(_IN_THIS_THREAD)
    else:
        per_step = len(range(batch_size)[rows])
        dataset = _decoded(split, step_ids, per_step, steps, labelled, workers)
    if put is not None:
        dataset = dataset.map(put)
    if ahead > 0:
        dataset = grain.experimental.ThreadPrefetchIterDataset(dataset, prefetch_buffer_size=ahead)
    return _named_failures(iter(dataset), workers)


# Read on the calling thread, with none of grain's default read-ahead (500 elements, which
# here are whole batches): the read-ahead is the workers' and the device thread's.
_IN_THIS_THREAD = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)


def _decoded(split: Split, step_ids: StepIds, b: int, steps: range, labelled: bool, workers):
    """The batches (`b` rows) of `steps` decoded row by row, in `workers` processes (here, for
    0)."""
    rows = grain.MapDataset.source(range(steps.start * b, steps.stop * b))
    batches = rows.map(_Row(split, step_ids, b, labelled)).batch(b)
    dataset = batches.to_iter_dataset(_IN_THIS_THREAD)
    if workers <= 0:
        return dataset
    _parse_absl_flags()
    options = grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=1)
    _quiet_resource_tracker()
    return dataset.mp_prefetch(options, worker_init_fn=_exit_with_the_parent)


def _quiet_resource_tracker() -> None:
    """Grain hands the workers' batches over in shared memory. A run that stops early (a
    signal, an error) leaves the few batches in flight to multiprocessing's resource tracker,
    which removes them as the process exits: its job. It also warns of each, in lines that
    would follow the run's last sentence and read as a fault. The tracker is a process of its
    own, started with this process's `-W` options (`sys.warnoptions`), so its warning is
    silenced there, before grain starts it; where it is already running, this changes
    nothing."""
    if _TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(_TRACKER_WARNINGS)


_TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def _exit_with_the_parent(worker: int, workers: int) -> None:
    """In each worker, a thread that ends the worker once the training process is gone: a
    process killed outright (SIGKILL, the out-of-memory killer) cannot stop its workers, and
    they would hold their memory, and the terminal's pipes, with nothing to read them."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="natjax-parent-watch", daemon=True).start()


def _named_failures(iterator, workers: int) -> Iterator[dict]:
    """`iterator`'s batches; a decoding process that died becomes one sentence. Closing this
    closes `iterator` (its thread and processes)."""
    try:
        yield from iterator
    except RuntimeError as e:
        died = _WORKER_DIED.search(str(e))
        if died is None:
            raise
        code = int(died.group(1))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        oom = " (signal 9 is often the out-of-memory killer)" if code == -9 else ""
        raise UserError(
            f"a process decoding images (one of {workers}) {how}{oom}; the run stopped and "
            "its checkpoints are kept: run the same command to resume, with fewer "
            "--config.data.decode_workers if memory is short."
        ) from e
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _parse_absl_flags() -> None:
    """Grain 0.2.18, once JAX's profiler is loaded, reads its absl flag
    `grain_enable_multiprocess_worker_profiling` as it starts workers, and fails where the
    program (the bench, pytest) did not start with `absl.app`: there, flags take their defaults."""
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()

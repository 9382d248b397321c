"""Orbax checkpoints of the train state, in four items: `model` (params and batch-norm
statistics, all an encoder needs), `train` (optimizer state, assignment, RNG, step), `config`
(the run's config as JSON, which a resumed run must match) and `checksums` (every array's,
verified on every restore: `natjax.checkpoints.checksums`)."""

import contextlib
import errno
import os
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from natjax.checkpoints import checksums
from natjax.errors import UserError
from natjax.objectives.state import TrainState


def create_manager(
    workdir: str, max_to_keep: int = 3, create: bool = True
) -> ocp.CheckpointManager:
    """The manager of `workdir/checkpoints`."""
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=create)
    return ocp.CheckpointManager(
        os.path.join(os.path.abspath(workdir), "checkpoints"), options=options
    )


def _items(state: TrainState) -> tuple[dict, dict]:
    model = {"params": state.params, "batch_stats": state.batch_stats}
    train = {"step": state.step, "opt_state": state.opt_state, "perm": state.perm, "rng": state.rng}
    if state.extra:  # Only objectives with state of their own: NAT's layout stays as it was.
        train["extra"] = state.extra
    return model, train


def save(manager: ocp.CheckpointManager, state: TrainState, config: dict) -> None:
    """Starts saving `state` and `config` (Orbax writes asynchronously; `wait` finishes)."""
    model, train = _items(state)
    step = int(state.step)
    args = ocp.args.Composite(
        model=ocp.args.StandardSave(model),
        train=ocp.args.StandardSave(train),
        config=ocp.args.JsonSave(config),
        checksums=ocp.args.JsonSave({"model": checksums.of(model), "train": checksums.of(train)}),
    )
    try:
        manager.save(step, args=args)
    except Exception as e:  # noqa: BLE001 (tensorstore reports a full disk as a ValueError)
        if not _failed_write(e):
            raise
        _wait_quietly(manager)  # The earlier writes still in flight complete before the run stops.
        raise _save_failed(manager, step, e) from e


def wait(manager: ocp.CheckpointManager) -> None:
    """Waits for the writes in flight."""
    try:
        manager.wait_until_finished()
    except Exception as e:  # noqa: BLE001 (as in `save`)
        if not _failed_write(e):
            raise
        raise _save_failed(manager, None, e) from e


def _wait_quietly(manager: ocp.CheckpointManager) -> None:
    with contextlib.suppress(Exception):  # The failure being reported is the first one.
        manager.wait_until_finished()


_NO_SPACE = "No space left on device"


def _failed_write(e: BaseException) -> bool:
    """Whether `e` (or what caused it) is a failed write: an OSError, or tensorstore's
    RESOURCE_EXHAUSTED for a full disk."""
    while e is not None:
        if isinstance(e, OSError) or _NO_SPACE in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _reason(e: BaseException) -> str:
    if _NO_SPACE in str(e) or getattr(e, "errno", None) == errno.ENOSPC:
        return _NO_SPACE
    return getattr(e, "strerror", None) or _first_line(e)


def _size(directory: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(directory)
        for name in names
    )


def _unfinished_steps(directory: str) -> list[int]:
    """The steps of the checkpoints Orbax has begun and not finished (`STEP.orbax-...-tmp`)."""
    names = os.listdir(directory) if os.path.isdir(directory) else []
    return [int(n.split(".")[0]) for n in names if n.split(".")[0].isdigit() and "tmp" in n]


def _save_failed(manager: ocp.CheckpointManager, step: int | None, e: Exception) -> UserError:
    """A failed write (a full disk, say) in one sentence that names the directory and the
    space a checkpoint takes; what was saved before is intact."""
    pending = _unfinished_steps(str(manager.directory))  # Orbax writes asynchronously: an
    step = min(pending) if pending else step  # earlier save may be the one that failed.
    at = f" at step {step}" if step is not None else ""
    complete = [s for s in manager.all_steps() if s != step]
    resume = f"step {max(complete)}" if complete else "the start"
    need = ""
    if complete:
        megabytes = _size(os.path.join(str(manager.directory), str(max(complete)))) / 1e6
        need = f" (a checkpoint takes {megabytes:.1f} MB)"
    return UserError(
        f"saving the checkpoint{at} in {manager.directory} failed ({_reason(e)}); free "
        f"space{need} or fix the directory, then rerun the same command: it resumes from "
        f"{resume}."
    )


class CorruptCheckpoint(Exception):
    """A checkpoint that cannot be read (missing, truncated or garbled files, unparseable
    metadata) or whose assignment is not a permutation; its message says which."""


def _first_line(e: Exception) -> str:
    """The first line of `e`'s message, without the TensorStore pointer Orbax appends to it
    (which prints as the repr of a bound pybind11 method); for Orbax's "error while reading
    array index", the first line of TensorStore's error beneath it, which names the array."""
    while e.__cause__ is not None and "error while reading array index" in str(e):
        e = e.__cause__
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    line = line.split(" See full TensorStore details")[0].split(" <bound method")[0]
    return line.rstrip(" .:")[:200] or type(e).__name__


def _layout(tree) -> dict[tuple[str, ...], tuple[tuple[int, ...], str]]:
    """Each array of `tree` (arrays, shape structs or Orbax array metadata) by its path:
    `(shape, dtype name)`."""
    flat = ocp.tree.to_flat_dict(tree)
    return {path: (tuple(a.shape), np.dtype(a.dtype).name) for path, a in flat.items()}


def _saved_layout(manager: ocp.CheckpointManager, step: int, items: tuple[str, ...]) -> dict:
    """The layout of `items` of the checkpoint at `step`, read from its metadata alone."""
    step_dir = epath.Path(str(manager.directory)) / str(step)
    handler = ocp.StandardCheckpointHandler()
    try:
        return _layout({item: handler.metadata(step_dir / item).tree for item in items})
    except Exception as e:  # noqa: BLE001 (orbax raises many kinds for unreadable metadata)
        raise CorruptCheckpoint(_first_line(e)) from e


def _describe(path: tuple[str, ...], saved: dict, here: dict) -> str:
    name = ".".join(path)
    if path not in here:
        return f"{name} only in the checkpoint"
    if path not in saved:
        return f"{name} missing from the checkpoint"
    (s_shape, s_dtype), (h_shape, h_dtype) = saved[path], here[path]
    return f"{name} {s_dtype}{list(s_shape)} saved, {h_dtype}{list(h_shape)} here"


RESUME_ADVICE = "resume with the config (and natjax) that wrote it, or pass a new --workdir"


def check_layout(
    manager: ocp.CheckpointManager, step: int, like: dict, advice: str = RESUME_ADVICE
) -> None:
    """Raises a UserError naming the first differing arrays (and ending with `advice`) unless
    the checkpoint at `step` holds the arrays of `like` (`{item: tree}`) at their paths,
    shapes and dtypes; raises CorruptCheckpoint if its metadata cannot be read."""
    saved, here = _saved_layout(manager, step, tuple(like)), _layout(like)
    differ = sorted(p for p in saved.keys() | here.keys() if saved.get(p) != here.get(p))
    if not differ:
        return
    named = "; ".join(_describe(p, saved, here) for p in differ[:3])
    more = f"; and {len(differ) - 3} more" if len(differ) > 3 else ""
    raise UserError(
        f"the checkpoint at step {step} in {manager.directory} holds another train state than "
        f"this run's ({named}{more}): another natjax version or config wrote it; {advice}."
    )


def restore(manager: ocp.CheckpointManager, like: TrainState, step: int) -> TrainState:
    """The state saved at `step`, placed like `like`. Raises a UserError if the checkpoint
    holds another layout (`check_layout`), CorruptCheckpoint if it cannot be read or its
    assignment is not a permutation."""
    model, train = jax.tree.map(ocp.utils.to_shape_dtype_struct, _items(like))
    check_layout(manager, step, {"model": model, "train": train})
    args = ocp.args.Composite(
        model=ocp.args.StandardRestore(model), train=ocp.args.StandardRestore(train)
    )
    try:
        restored = manager.restore(step, args=args)
    except Exception as e:  # noqa: BLE001 (orbax and tensorstore raise many kinds)
        raise CorruptCheckpoint(_first_line(e)) from e
    verify(manager, step, {"model": restored.model, "train": restored.train})
    if not is_permutation(np.asarray(restored.train["perm"])):
        raise CorruptCheckpoint("its assignment is not a permutation")
    return like.replace(**restored.model, **restored.train)


def _saved_checksums(manager: ocp.CheckpointManager, step: int) -> dict | None:
    """The checksums saved with the checkpoint at `step`; None if it predates them."""
    if not (epath.Path(str(manager.directory)) / str(step) / "checksums").exists():
        return None
    args = ocp.args.Composite(checksums=ocp.args.JsonRestore())
    try:
        saved = manager.restore(step, args=args).checksums
    except Exception as e:  # noqa: BLE001 (orbax raises many kinds for unreadable JSON)
        raise CorruptCheckpoint(f"its checksums cannot be read: {_first_line(e)}") from e
    if not isinstance(saved, dict):
        raise CorruptCheckpoint("its checksums cannot be read")
    return saved


def verify(manager: ocp.CheckpointManager, step: int, restored: dict) -> None:
    """Raises CorruptCheckpoint unless every array of `restored` (`{item: tree}`) has the
    checksum saved with the checkpoint at `step`; says in one line if it has none (natjax
    before checksums wrote it)."""
    saved = _saved_checksums(manager, step)
    if saved is None:
        if jax.process_index() == 0:
            print(
                f"natjax: the checkpoint at step {step} in {manager.directory} was written "
                "before natjax saved checksums, so it cannot be verified.",
                file=sys.stderr,
            )
        return
    for item, tree in restored.items():
        found = checksums.mismatch(tree, saved.get(item, {}))
        if found:
            raise CorruptCheckpoint(found)


def restore_latest(manager: ocp.CheckpointManager, like: TrainState) -> TrainState | None:
    """The latest checkpoint that restores and verifies, placed like `like` (None if none
    does). A corrupt one is reported in one sentence and moved aside to `corrupt-STEP` (kept,
    never trained over), and the previous one is tried. One of another layout is refused
    (a UserError) and left where it is."""
    steps = sorted(manager.all_steps(), reverse=True)
    for i, step in enumerate(steps):
        try:
            return restore(manager, like, step)
        except CorruptCheckpoint as e:
            _set_aside(manager, step, str(e), last=i == len(steps) - 1)
    return None


def _set_aside(manager: ocp.CheckpointManager, step: int, reason: str, last: bool) -> None:
    """Moves the checkpoint at `step` to `corrupt-STEP` (process 0) and says so, and what the
    run does instead (`last`: no earlier one is left)."""
    aside = os.path.join(str(manager.directory), f"corrupt-{step}")
    if jax.process_index() == 0:
        os.replace(os.path.join(str(manager.directory), str(step)), aside)
        print(
            f"natjax: warning: the checkpoint at step {step} cannot be restored "
            f"({reason}); it was moved to {aside} and "
            + (
                "no earlier one is left, so the run starts from step 0."
                if last
                else "the previous one is used."
            ),
            file=sys.stderr,
        )
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(f"natjax moved checkpoint {step} aside")
    manager.reload()


def latest_step(workdir: str) -> int | None:
    """The latest checkpoint's step in `workdir` (None if there is none)."""
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        return None
    return create_manager(workdir, create=False).latest_step()


def restore_model(workdir: str, step: int | None, like: dict, step_flag="--checkpoint") -> dict:
    """Only the `model` item (params, batch_stats) of `workdir/checkpoints`, placed like `like`
    (so a checkpoint written on a pod opens on a laptop's single device), verified against its
    checksums; a checkpoint that cannot be read or verified is a UserError that names
    `step_flag`, the command's flag for another step."""
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        raise UserError(f"{workdir} has no checkpoints; train into it with natjax.main first.")
    manager = create_manager(workdir, create=False)
    steps = manager.all_steps()
    if not steps:
        raise UserError(f"{workdir} has no checkpoints; train into it with natjax.main first.")
    step = max(steps) if step is None else step
    if step not in steps:
        raise UserError(f"{workdir} has no checkpoint at step {step}; it has {sorted(steps)}.")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    try:
        check_layout(manager, step, {"model": abstract}, advice=_READ_ADVICE)
        restored = manager.restore(
            step, args=ocp.args.Composite(model=ocp.args.StandardRestore(abstract))
        )
        verify(manager, step, {"model": restored.model})
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 (orbax and tensorstore raise many kinds)
        raise UserError(
            f"the checkpoint at step {step} in {manager.directory} cannot be read "
            f"({_first_line(e)}); pass another step with {step_flag}."
        ) from e
    return restored.model


_READ_ADVICE = "read it with the natjax version that wrote it"


def is_permutation(perm: np.ndarray) -> bool:
    """Whether `perm` is a permutation of `[0, n)`."""
    return perm.ndim == 1 and np.array_equal(np.sort(perm), np.arange(perm.shape[0]))


def verify_permutation(perm: np.ndarray, where: str) -> None:
    """Raises unless `perm` is a permutation of `[0, n)`."""
    n = perm.shape[0]
    if not is_permutation(perm):
        raise UserError(
            f"The assignment in {where} is not a permutation of [0, {n}); "
            "the checkpoint is corrupt: delete it to resume from the previous one."
        )

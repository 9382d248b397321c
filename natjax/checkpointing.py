"""Orbax checkpoints of the train state, in three items: `model` (params and batch-norm
statistics, all an encoder needs), `train` (optimizer state, assignment, RNG, step) and
`config` (the run's config as JSON, which a resumed run must match)."""

import os
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from natjax.errors import UserError
from natjax.state import TrainState


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
    return model, train


def save(manager: ocp.CheckpointManager, state: TrainState, config: dict) -> None:
    """Starts saving `state` and `config` (Orbax writes asynchronously; `wait` finishes)."""
    model, train = _items(state)
    step = int(state.step)
    args = ocp.args.Composite(
        model=ocp.args.StandardSave(model),
        train=ocp.args.StandardSave(train),
        config=ocp.args.JsonSave(config),
    )
    try:
        manager.save(step, args=args)
    except OSError as e:
        wait(manager)  # The earlier writes still in flight complete before the run stops.
        raise _save_failed(manager, step, e) from e


def wait(manager: ocp.CheckpointManager) -> None:
    """Waits for the writes in flight."""
    try:
        manager.wait_until_finished()
    except OSError as e:
        raise _save_failed(manager, None, e) from e


def _save_failed(manager: ocp.CheckpointManager, step: int | None, e: OSError) -> UserError:
    """A failed write (a full disk, say) in one sentence; what was saved before is intact."""
    at = f" at step {step}" if step is not None else ""
    complete = [s for s in manager.all_steps() if s != step]
    resume = f"step {max(complete)}" if complete else "the start"
    return UserError(
        f"saving the checkpoint{at} in {manager.directory} failed ({e.strerror or e}); free "
        f"space or fix the directory, then rerun the same command: it resumes from {resume}."
    )


def restore(manager: ocp.CheckpointManager, like: TrainState, step: int) -> TrainState:
    """The state saved at `step`, placed like `like`; its assignment is verified."""
    model, train = jax.tree.map(ocp.utils.to_shape_dtype_struct, _items(like))
    restored = manager.restore(
        step,
        args=ocp.args.Composite(
            model=ocp.args.StandardRestore(model), train=ocp.args.StandardRestore(train)
        ),
    )
    verify_permutation(np.asarray(restored.train["perm"]), f"checkpoint step {step}")
    return like.replace(**restored.model, **restored.train)


def restore_latest(manager: ocp.CheckpointManager, like: TrainState) -> TrainState | None:
    """The latest checkpoint that restores and verifies, placed like `like` (None if none
    does). One that fails is reported in one sentence and moved aside to `corrupt-STEP` (kept,
    never trained over), and the previous one is tried."""
    for step in sorted(manager.all_steps(), reverse=True):
        try:
            return restore(manager, like, step)
        except Exception as e:  # noqa: BLE001 (orbax and tensorstore raise many kinds)
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            aside = os.path.join(str(manager.directory), f"corrupt-{step}")
            if jax.process_index() == 0:
                os.replace(os.path.join(str(manager.directory), str(step)), aside)
                print(
                    f"natjax: warning: the checkpoint at step {step} cannot be restored "
                    f"({reason}); it was moved to {aside} and the previous one is used.",
                    file=sys.stderr,
                )
            if jax.process_count() > 1:
                multihost_utils.sync_global_devices(f"natjax moved checkpoint {step} aside")
            manager.reload()
    return None


def latest_step(workdir: str) -> int | None:
    """The latest checkpoint's step in `workdir` (None if there is none)."""
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        return None
    return create_manager(workdir, create=False).latest_step()


def restore_model(workdir: str, step: int | None, like: dict) -> dict:
    """Only the `model` item (params, batch_stats) of `workdir/checkpoints`, placed like `like`
    (so a checkpoint written on a pod opens on a laptop's single device)."""
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        raise UserError(f"{workdir} has no checkpoints; train into it with natjax.main first.")
    manager = create_manager(workdir, create=False)
    steps = manager.all_steps()
    step = max(steps, default=None) if step is None else step
    if step not in steps:
        raise UserError(f"{workdir} has no checkpoint at step {step}; it has {sorted(steps)}.")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    restored = manager.restore(
        step, args=ocp.args.Composite(model=ocp.args.StandardRestore(abstract))
    )
    return restored.model


def verify_permutation(perm: np.ndarray, where: str) -> None:
    """Raises unless `perm` is a permutation of `[0, n)`."""
    n = perm.shape[0]
    if perm.ndim != 1 or not np.array_equal(np.sort(perm), np.arange(n)):
        raise UserError(
            f"The assignment in {where} is not a permutation of [0, {n}); "
            "the checkpoint is corrupt: delete it to resume from the previous one."
        )

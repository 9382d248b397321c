"""The training loop: the steps left from the latest checkpoint, saves, logs, the kNN monitor
and preemption."""

import collections
import functools
import json
import logging
import math
import time

import jax
import tqdm

from natjax import checkpoints, data
from natjax.data import grain_batches
from natjax.errors import Preempted, UserError
from natjax.evaluation import monitor
from natjax.evaluation.metrics import MetricsWriter, read_metrics
from natjax.objectives import TrainState, create_train_state
from natjax.objectives.refresh import Refresher
from natjax.parallel import sharding
from natjax.training import preemption
from natjax.training.run import Run, compile_step, input_shape

PREFETCH_BATCHES = 2  # Batches put on the devices ahead of the step.
# Steps the host dispatches beyond the one the device is running. Unbounded, the host ran 16
# steps ahead on CPU, and a stop signal waited for them all; at 1 the device still always has
# its next step queued, and a stop lands within 2 steps of the signal.
STEPS_AHEAD = 1


def initial_state(run: Run, manager) -> TrainState:
    """Step 0's state, or the latest checkpoint in the workdir (resumed with no extra flag)."""
    n = len(run.dataset.train)
    init_extra = run.objective.init_extra
    state = create_train_state(run.model, run.tx, run.config.seed, n, input_shape(run), init_extra)
    state = jax.device_put(state, sharding.state_sharding(run.mesh))
    restored = checkpoints.restore_latest(manager, state)
    if restored is not None:
        logging.info("Resuming from the checkpoint at step %d.", int(restored.step))
    return state if restored is None else restored


def batches(run: Run, start_step: int, put: bool = True, ahead: int = PREFETCH_BATCHES):
    """This process's rows of the global batches from `start_step` to the end, in the run's
    deterministic order (the same global batches for any number of devices and hosts), on the
    devices (`put`) `ahead` batches ahead of the step; decoded by `data.decode_workers`
    processes where the images are not in memory (`natjax.data.grain_batches`)."""
    config = run.config
    put_batch = functools.partial(sharding.put_batch, mesh=run.mesh, batch_size=config.batch_size)
    return grain_batches.train_batches(
        run.dataset.train,
        config.batch_size,
        config.seed,
        range(start_step, run.total_steps),
        rows=sharding.process_rows(run.mesh, config.batch_size),
        labelled=run.objective.needs_labels,
        workers=config.data.decode_workers or data.default_workers(),
        put=put_batch if put else None,
        ahead=ahead,
    )


def _refresher(run: Run) -> Refresher | None:
    """The run's pass over the training set between epochs, or None where its objective has
    none (NAT included)."""
    objective = run.objective
    if objective.refresh is None or objective.refresh_every <= 0:
        return None
    images, batch_size = run.dataset.train.images, run.config.batch_size
    return Refresher(objective, run.model, run.tx, images, run.step_cfg, batch_size, run.mesh)


def _knn_monitor(run: Run) -> monitor.KnnMonitor | None:
    """The kNN monitor, where asked for and the images carry one label each."""
    if run.config.eval.monitor_every_epochs <= 0 or run.dataset.multilabel:
        return None
    crop_size = run.step_cfg.crop_size
    return monitor.KnnMonitor(run.config, run.model, run.dataset, crop_size, run.mesh)


def _is_monitor_step(steps_done: int, steps_per_epoch: int, eval_config) -> bool:
    epochs, rest = divmod(steps_done, steps_per_epoch)
    return rest == 0 and epochs % eval_config.monitor_every_epochs == 0


def _is_save_step(steps_done: int, steps_per_epoch: int, every: int) -> bool:
    """Checkpoints go at every epoch end and every `every` steps (0: epoch ends only)."""
    return steps_done % steps_per_epoch == 0 or (every > 0 and steps_done % every == 0)


def _check_finite(loss: float, step: int) -> None:
    if not math.isfinite(loss):
        raise UserError(
            f"The loss became {loss} at step {step}; the last good checkpoint is kept: resume "
            "from it at a lower rate with --config.optim.learning_rate=LOWER "
            "--allow_change=optim.learning_rate."
        )


def _logged_loss(workdir: str) -> float:
    """The last loss the run logged before this process: a resumed run that has no step left
    reports it as its final loss."""
    _, values = read_metrics(workdir).get("loss", ((), ()))
    return float(values[-1]) if len(values) else float("nan")


def _keep_close(in_flight: collections.deque, loss: jax.Array) -> None:
    """Waits until the device is at most `STEPS_AHEAD` steps behind the host (`loss`: the step
    just dispatched's)."""
    in_flight.append(loss)
    if len(in_flight) > STEPS_AHEAD:
        in_flight.popleft().block_until_ready()


def _stop(manager, state: TrainState, config_json: dict, unsaved_loss, signal_name: str):
    """Saves `state` unless it was saved (`unsaved_loss` None) and raises Preempted; the save
    lands before the exception leaves `train` (its `finally`)."""
    step = int(state.step)
    if unsaved_loss is not None:
        _check_finite(float(unsaved_loss), step)
        checkpoints.save(manager, state, config_json)
    raise Preempted(step, str(manager.directory), signal_name)


def train(run: Run, state: TrainState, manager) -> tuple[TrainState, dict]:
    """Runs the steps left; saves every `checkpoint.every_steps` steps and at every epoch end.
    Returns the state and timing facts. On a preemption notice (SIGTERM or SIGINT, see
    `natjax.training.preemption`) it saves the step it has reached, waits for the save and
    raises Preempted."""
    step_fn = compile_step(run)
    spe, start = run.step_cfg.steps_per_epoch, int(state.step)
    config_json = json.loads(run.config.to_json_best_effort())
    bar = tqdm.tqdm(
        total=run.total_steps,
        initial=start,
        disable=not run.config.progress_bar or jax.process_index() != 0,
        desc="NAT",
        unit="step",
        dynamic_ncols=True,
    )
    writer, knn = MetricsWriter(run.workdir, start), _knn_monitor(run)
    t0, t_first, loss, monitoring = time.perf_counter(), None, _logged_loss(run.workdir), 0.0
    ready = batches(run, start)
    preempted = preemption.Preemption(manager)
    refresh, in_flight = _refresher(run), collections.deque()
    try:
        for step, batch in enumerate(ready, start=start):
            if refresh is not None:
                state = refresh(state, step)
            state, metrics = step_fn(state, batch)
            _keep_close(in_flight, metrics["loss"])
            if t_first is None:
                jax.block_until_ready(state)
                t_first = time.perf_counter()
            save = _is_save_step(step + 1, spe, run.config.checkpoint.every_steps)
            if save or (step + 1) % run.config.log_every_steps == 0:
                loss = float(metrics["loss"])
                _check_finite(loss, step + 1)  # Before any save: the last good checkpoint stays.
                changed = float(metrics["changed_fraction"])
                bar.set_postfix(loss=f"{loss:.4f}", changed=f"{changed:.2f}")
                reassigned = {"changed_fraction": changed} if bool(metrics["reassigned"]) else {}
                writer.write(step + 1, loss=loss, **reassigned)  # The share only where it applies.
            if save:
                checkpoints.save(manager, state, config_json)
            if knn is not None and _is_monitor_step(step + 1, spe, run.config.eval):
                t = time.perf_counter()
                variables = {"params": state.params, "batch_stats": state.batch_stats}
                writer.write(step + 1, knn_top1=knn(variables))
                monitoring += time.perf_counter() - t
            bar.update(1)
            if preempted(step + 1):  # Asked on every host after every step.
                unsaved = None if save else metrics["loss"]
                _stop(manager, state, config_json, unsaved, preempted.signal_name)
        jax.block_until_ready(state)
    finally:  # Also when the run stops early: the saves in flight land.
        preempted.close()
        ready.close()
        bar.close()
        writer.close()
        checkpoints.wait(manager)
    end = time.perf_counter() - monitoring
    steps_done = run.total_steps - start
    timed = (steps_done - 1) * run.config.batch_size
    return state, {
        "train_seconds": end - t0,
        "monitor_seconds": monitoring,
        "images_per_second": timed / (end - t_first) if steps_done > 1 else float("nan"),
        "final_loss": loss,
    }

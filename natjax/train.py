"""The NAT training job: set up, train (resuming from the latest checkpoint), evaluate, report."""

import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import time

import jax
import numpy as np
import optax
import tqdm
from ml_collections import ConfigDict

from natjax import (
    checkpointing,
    data,
    distributed,
    encoder_io,
    evaluation,
    figures,
    monitor,
    objectives,
    preemption,
    prefetch,
    preprocess,
    sharding,
    views,
)
from natjax.config_checks import check_batch_fits, check_config, check_resume_config
from natjax.errors import Preempted, UserError
from natjax.models import NATModel, create_model
from natjax.optim import create_optimizer
from natjax.state import TrainState, create_train_state
from natjax.step import StepConfig

PREFETCH_BATCHES = 2  # Batches put on the devices ahead of the step.


@dataclasses.dataclass
class Run:
    """What the loop and the evaluation share."""

    config: ConfigDict
    workdir: str
    dataset: data.Dataset
    mesh: jax.sharding.Mesh
    model: NATModel
    tx: optax.GradientTransformation
    step_cfg: StepConfig
    total_steps: int


def setup(config: ConfigDict, workdir: str) -> Run:
    """Checks the config, loads the data and builds model, optimizer and step settings."""
    check_config(config)
    distributed.check_same_config(config)
    dataset = data.load(config.data)
    config = _as_run(config, dataset.num_classes)
    check_batch_fits(config.batch_size, len(dataset.train))
    mesh = sharding.make_mesh()
    sharding.check_batch_size(config.batch_size, mesh)
    steps_per_epoch = data.num_steps_per_epoch(len(dataset.train), config.batch_size)
    total_steps = steps_per_epoch * config.num_epochs
    step_cfg = step_config(config, dataset.image_shape, steps_per_epoch)
    tx = create_optimizer(config.optim, total_steps)
    model = create_model(config)
    return Run(config, workdir, dataset, mesh, model, tx, step_cfg, total_steps)


def step_config(config: ConfigDict, image_shape: tuple, steps_per_epoch: int) -> StepConfig:
    """The step's static settings for images of `image_shape` (`[H, W, ...]`)."""
    return StepConfig(
        steps_per_epoch=steps_per_epoch,
        reassign_every=config.nat.reassign_every,
        solver=config.nat.solver,
        target_seed=config.nat.target_seed,
        target_dim=config.model.target_dim,
        crop_size=config.input.crop_size or image_shape[0],
        crop_padding=config.input.crop_padding,
        flip=config.input.flip,
        scope=config.nat.scope,
        targets=config.nat.targets,
        views=view_spec(config),
    )


def view_spec(config: ConfigDict) -> views.ViewSpec | None:
    """`input.strong` as the step's ViewSpec when `input.views` is "strong" or the objective
    always draws strong views (SimCLR), else None."""
    if config.input.views != "strong" and not objectives.strong_views(config):
        return None
    return views.ViewSpec(**config.input.strong.to_dict(), flip=config.input.flip)


def _as_run(config: ConfigDict, num_classes: int) -> ConfigDict:
    """The config as run: a classifier's head (supervised: one output per class; rotation:
    four) is sized by its objective, and a projection MLP's hidden layers are the head's
    (`model.projection_widths`), so `config.json` (which export and evaluation rebuild the
    model from) says so."""
    dim, widths = objectives.head_dim(config, num_classes), objectives.head_widths(config)
    if config.model.target_dim == dim and tuple(config.model.head_widths) == widths:
        return config
    logging.info("objective=%s: the head is %s -> %d.", config.objective, widths, dim)
    config = config.copy_and_resolve_references()
    config.model.target_dim = dim
    config.model.head_widths = widths
    return config


def compile_step(run: Run):
    """The jitted step (`config.objective`'s): state donated and replicated, batch split over
    the mesh."""
    step = objectives.step_fn(run.config)
    fn = functools.partial(step, model=run.model, tx=run.tx, cfg=run.step_cfg, mesh=run.mesh)
    replicated = sharding.state_sharding(run.mesh)
    return jax.jit(fn, donate_argnums=0, out_shardings=(replicated, replicated))


def input_shape(run: Run) -> tuple[int, int, int]:
    return preprocess.model_input_shape(run.dataset.image_shape, run.step_cfg.crop_size)


def initial_state(run: Run, manager) -> TrainState:
    """Step 0's state, or the latest checkpoint in the workdir (resumed with no extra flag)."""
    n = len(run.dataset.train)
    init_extra = objectives.init_extra(run.config)
    state = create_train_state(run.model, run.tx, run.config.seed, n, input_shape(run), init_extra)
    state = jax.device_put(state, sharding.state_sharding(run.mesh))
    restored = checkpointing.restore_latest(manager, state)
    if restored is not None:
        logging.info("Resuming from the checkpoint at step %d.", int(restored.step))
    return state if restored is None else restored


def batches(run: Run, start_step: int):
    """This process's rows of the global batches from `start_step` to the end, in the run's
    deterministic order (the same global batches for any number of devices and hosts)."""
    spe, n = run.step_cfg.steps_per_epoch, len(run.dataset.train)
    rows = sharding.process_rows(run.mesh, run.config.batch_size)
    labelled = objectives.needs_labels(run.config)
    ids = None
    for step in range(start_step, run.total_steps):
        epoch, offset = divmod(step, spe)
        if ids is None or offset == 0:
            ids = data.epoch_ids(n, run.config.batch_size, run.config.seed, epoch)
        mine = ids[offset][rows]
        batch = {"images": run.dataset.train.images[mine], "ids": mine}
        if labelled:
            batch["labels"] = run.dataset.train.labels[mine]
        yield batch


def _knn_monitor(run: Run) -> monitor.KnnMonitor | None:
    if run.config.eval.monitor_every_epochs <= 0:
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
            f"The loss became {loss} at step {step}; lower --config.optim.learning_rate "
            "(the last good checkpoint is kept)."
        )


def _stop(manager, state: TrainState, config_json: dict, unsaved_loss: jax.Array | None):
    """Saves `state` unless it was saved (`unsaved_loss` None) and raises Preempted; the save
    lands before the exception leaves `train` (its `finally`)."""
    step = int(state.step)
    if unsaved_loss is not None:
        _check_finite(float(unsaved_loss), step)
        checkpointing.save(manager, state, config_json)
    raise Preempted(step, str(manager.directory))


def train(run: Run, state: TrainState, manager) -> tuple[TrainState, dict]:
    """Runs the steps left; saves every `checkpoint.every_steps` steps and at every epoch end.
    Returns the state and timing facts. On a preemption notice (SIGTERM, see
    `natjax.preemption`) it saves the step it has reached, waits for the save and raises
    Preempted."""
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
    writer, knn = monitor.MetricsWriter(run.workdir), _knn_monitor(run)
    t0, t_first, loss, monitoring = time.perf_counter(), None, float("nan"), 0.0
    put = functools.partial(sharding.put_batch, mesh=run.mesh, batch_size=run.config.batch_size)
    ready = prefetch.prefetch(batches(run, start), put, size=PREFETCH_BATCHES)
    preempted = preemption.Preemption(manager)
    refresh = objectives.refresher(
        run.config, run.model, run.tx, run.dataset.train.images, run.step_cfg, run.mesh
    )
    try:
        for step, batch in enumerate(ready, start=start):
            if refresh is not None:
                state = refresh(state, step)
            state, metrics = step_fn(state, batch)
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
                checkpointing.save(manager, state, config_json)
            if knn is not None and _is_monitor_step(step + 1, spe, run.config.eval):
                t = time.perf_counter()
                variables = {"params": state.params, "batch_stats": state.batch_stats}
                writer.write(step + 1, knn_top1=knn(variables))
                monitoring += time.perf_counter() - t
            bar.update(1)
            if preempted(step + 1):  # Asked on every host after every step.
                _stop(manager, state, config_json, None if save else metrics["loss"])
        jax.block_until_ready(state)
    finally:  # Also when the run stops early: the saves in flight land.
        preempted.close()
        ready.close()
        bar.close()
        writer.close()
        checkpointing.wait(manager)
    end = time.perf_counter() - monitoring
    steps_done = run.total_steps - start
    timed = (steps_done - 1) * run.config.batch_size
    return state, {
        "train_seconds": end - t0,
        "monitor_seconds": monitoring,
        "images_per_second": timed / (end - t_first) if steps_done > 1 else float("nan"),
        "final_loss": loss,
    }


def assignment_sha256(perm: jax.Array) -> str:
    """SHA-256 of the permutation's int32 bytes: equal runs give equal digests."""
    return hashlib.sha256(np.asarray(perm, np.int32).tobytes()).hexdigest()


def train_and_evaluate(config: ConfigDict, workdir: str) -> dict:
    """Trains NAT into `workdir`, evaluates the frozen encoder, writes `summary.json`."""
    run = setup(config, workdir)
    config = run.config
    _check_resumable(workdir, config)
    _prepare_workdir(workdir, config, run.dataset)
    manager = checkpointing.create_manager(workdir, max_to_keep=config.checkpoint.keep)
    state = initial_state(run, manager)
    state, facts = train(run, state, manager)
    variables = sharding.to_local({"params": state.params, "batch_stats": state.batch_stats})
    summary = evaluation.evaluate_model(config, run.model, variables, run.dataset)
    evaluation.write_results(workdir, int(state.step), summary)
    if jax.process_index() == 0:
        summary["figures"] = figures.draw_all(
            workdir, config, run.model, variables, run.dataset, run.step_cfg.crop_size
        )
    digest = assignment_sha256(sharding.to_local(state.perm))  # This process's own copy.
    distributed.check_same_assignment(digest)
    summary.update(
        facts,
        assignment_sha256=digest,
        steps=int(state.step),
        num_train_examples=len(run.dataset.train),
        devices=jax.device_count(),
        processes=jax.process_count(),
    )
    if jax.process_index() == 0:
        with open(os.path.join(workdir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(format_summary(summary))
    return summary


def _check_resumable(workdir: str, config: ConfigDict) -> None:
    """A workdir with checkpoints resumes only with the config that wrote them. It is read from
    `config.json` (the same config each checkpoint holds) with plain file reads: every host
    decides alike and no host starts an Orbax collective the others do not join."""
    saved = os.path.join(workdir, "config.json")
    if os.path.isdir(os.path.join(workdir, "checkpoints")) and os.path.exists(saved):
        with open(saved) as f:
            check_resume_config(encoder_io.upgrade_config(json.load(f)), config, workdir)


def _prepare_workdir(workdir: str, config: ConfigDict, dataset: data.Dataset) -> None:
    """Creates `workdir` with `config.json` and `run.json` (what export needs to rebuild)."""
    facts = {
        "image_shape": list(dataset.image_shape),
        "num_classes": dataset.num_classes,
        "num_train_examples": len(dataset.train),
    }
    try:
        os.makedirs(workdir, exist_ok=True)
        if jax.process_index() == 0:
            with open(os.path.join(workdir, "config.json"), "w") as f:
                f.write(config.to_json_best_effort(indent=2))
            with open(os.path.join(workdir, "run.json"), "w") as f:
                json.dump(facts, f, indent=2)
    except OSError as e:
        raise UserError(
            f"Cannot write to --workdir={workdir} ({e.strerror}); pass a writable directory."
        ) from e


def format_summary(summary: dict) -> str:
    """The summary as an aligned two-column table."""
    width = max(map(len, summary))
    lines = [
        f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
        for k, v in summary.items()
    ]
    return "\n".join(["NAT results", *lines])

"""The `finetune` protocol: the whole encoder plus a linear classifier trained with labels, on a
class-balanced, seeded share of the training labels at each of `eval.finetune.label_fractions`,
then scored on the test split. Beside each, the same network from its random initialisation,
on the same labels and schedule: the from-scratch row.

A fine-tune is a training run of the `supervised` objective in a workdir of its own under the
run's (`finetune/step_S/{pretrained,scratch}_FRACTION/`): on the run's mesh, with the run's
crops and flips, checkpointed and resumed as training is. The pretrained row starts from the
run's encoder (parameters and batch statistics) at step `S`; both rows start every other
variable, the classifier included, from the run's step-0 initialisation.
"""

import dataclasses
import logging
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from natjax import checkpoints, data, evaluation
from natjax.errors import UserError
from natjax.evaluation import multilabel
from natjax.evaluation.stream import encoder_stream
from natjax.models import features
from natjax.objectives import TrainState
from natjax.parallel import sharding
from natjax.training.config_checks import check_resume_config
from natjax.training.loop import initial_state, train
from natjax.training.run import Run, setup

ENCODER = "encoder"  # The variables' subtree the pretrained row takes from the run.
ROWS = ("pretrained", "scratch")
MIN_STEPS_PER_EPOCH = 50


def result_key(row: str, fraction: float, multilabel: bool = False) -> str:
    """The results' name of one figure: `finetune_top1@0.01`, `scratch_top1@0.01` (`_map@`
    for a multi-label dataset's mean average precision)."""
    metric = "map" if multilabel else "top1"
    return f"{'finetune' if row == 'pretrained' else 'scratch'}_{metric}@{fraction:g}"


def repeats(num_labelled: int, batch_size: int) -> int:
    """How many times a fine-tune's epoch passes over its labelled images: enough for
    `MIN_STEPS_PER_EPOCH` steps, so that a small share (100 images at 1% of 10,000) does not
    end an epoch, and save a checkpoint, at every step."""
    return max(1, math.ceil(MIN_STEPS_PER_EPOCH * batch_size / num_labelled))


def finetune_config(
    config: ConfigDict, num_labelled: int, devices: int, pretrained: bool = True
) -> ConfigDict:
    """The run's config as a fine-tune on `num_labelled` images: the supervised objective with
    a linear classifier, `eval.finetune`'s optimizer settings, and as many epochs (each of
    `repeats` passes) as make at least `eval.finetune.steps` steps; no end-of-run evaluation
    of its own. A `pretrained` encoder moves at `encoder_learning_rate_scale` times the
    classifier's rate; a network from scratch trains every layer at the full rate."""
    ft = config.eval.finetune
    batch = min(ft.batch_size, num_labelled) // devices * devices
    if batch == 0:
        raise UserError(
            f"eval.finetune.label_fractions keep {num_labelled} labelled images, fewer than the "
            f"{devices} devices; raise the smallest fraction."
        )
    c = config.copy_and_resolve_references()
    c.objective = "supervised"
    c.model.head_widths = ()
    c.model.projection_widths = ()
    c.batch_size = batch
    per_epoch = data.num_steps_per_epoch(num_labelled * repeats(num_labelled, batch), batch)
    c.num_epochs = math.ceil(ft.steps / per_epoch)
    c.optim.learning_rate = ft.learning_rate
    scale = ft.get("encoder_learning_rate_scale", 1.0) if pretrained else 1.0
    if scale != 1.0:
        with c.unlocked():  # A key of the fine-tune only; the command line locks the config.
            c.optim.encoder_learning_rate_scale = scale
    c.eval.protocols = ()
    c.eval.monitor_every_epochs = 0
    c.checkpoint.every_steps = ft.checkpoint_every_steps
    return c


def with_encoder(state: TrainState, pretrained: dict, mesh) -> TrainState:
    """`state` with its encoder's `params` and `batch_stats` replaced by `pretrained`'s."""

    def swap(tree: dict, new: dict) -> dict:
        if ENCODER not in tree:
            return tree
        placed = jax.device_put(new[ENCODER], sharding.state_sharding(mesh))
        return {**tree, ENCODER: placed}

    return state.replace(
        params=swap(state.params, pretrained["params"]),
        batch_stats=swap(state.batch_stats, pretrained.get("batch_stats", {})),
    )


def test_score(run: Run, state: TrainState) -> float:
    """The classifier's top-1 on the test split (eval mode, centre view), on the run's mesh;
    its mean average precision on a multi-label dataset."""
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    fn = features.make_encode_fn(run.model, run.step_cfg.crop_size, "head")
    chunk = sharding.chunk_size(run.config.eval.batch_size, run.mesh.devices.size)
    stream = encoder_stream(fn, variables, run.dataset.test, chunk, run.mesh)
    if run.dataset.multilabel:
        return multilabel.mean_average_precision(stream.gather(), stream.labels)
    correct = sum(int(_correct(c.x, c.labels, c.valid)) for c in stream.chunks())
    return correct / stream.n


@jax.jit
def _correct(logits, labels, valid):
    return jnp.sum((jnp.argmax(logits, -1) == labels) & valid)


def finetune_one(config: ConfigDict, labelled: data.Dataset, workdir: str, pretrained: dict | None):
    """One fine-tune of `config` (a `finetune_config`) on `labelled` into `workdir`, from
    `pretrained`'s encoder (None: from scratch); resumes from the latest checkpoint there.
    Returns its test score (`test_score`)."""
    run = setup(config, workdir, labelled)
    saved = checkpoints.saved_config(workdir)
    if saved is not None:
        check_resume_config(saved, run.config, workdir)
    checkpoints.write_run(workdir, run.config, run.dataset)
    manager = checkpoints.create_manager(workdir, max_to_keep=run.config.checkpoint.keep)
    state = initial_state(run, manager)
    if int(state.step) == 0 and pretrained is not None:
        state = with_encoder(state, pretrained, run.mesh)
    state, _ = train(run, state, manager)
    manager.close()
    return test_score(run, state)


@dataclasses.dataclass(frozen=True)
class Pretrained:
    """A run's encoder at one step, with what fine-tuning it needs."""

    config: ConfigDict
    variables: dict
    step: int
    dataset: data.Dataset
    workdir: str
    transfer: bool = False  # `dataset` is not the one the run trained on.


def top1s(pretrained: Pretrained, fractions=None) -> dict:
    """`result_key(row, fraction) -> top-1` for both rows at each of `fractions` (default: the
    run's `eval.finetune.label_fractions`), each in its own resumable workdir."""
    config = pretrained.config
    fractions = tuple(config.eval.finetune.label_fractions if fractions is None else fractions)
    check_fractions(fractions)
    devices = jax.device_count()
    name = f"step_{pretrained.step}"
    if pretrained.transfer:
        name += f"_on_{pretrained.dataset.name}"
    base = os.path.join(pretrained.workdir, "finetune", name)
    results = {}
    for fraction in fractions:
        train_split = pretrained.dataset.train.labelled_fraction(fraction, config.seed)
        for row in ROWS:
            from_run = row == "pretrained"
            ft_config = finetune_config(config, len(train_split), devices, from_run)
            passes = np.tile(
                np.arange(len(train_split)), repeats(len(train_split), ft_config.batch_size)
            )
            labelled = dataclasses.replace(pretrained.dataset, train=train_split.take(passes))
            init = pretrained.variables if from_run else None
            where = os.path.join(base, f"{row}_{fraction:g}")
            logging.info("Fine-tuning (%s) on %d labelled images.", row, len(train_split))
            key = result_key(row, fraction, labelled.multilabel)
            results[key] = finetune_one(ft_config, labelled, where, init)
        results[f"finetune_labelled@{fraction:g}"] = len(train_split)
    return results


def check_fractions(fractions) -> None:
    if not fractions or not all(0 < f <= 1 for f in fractions):
        shown = ",".join(f"{f:g}" for f in fractions)
        raise UserError(
            f"label fractions {shown or '(none)'} are not shares of the labels; give each in "
            "(0, 1], e.g. 0.01,0.1,1."
        )


def finetune_checkpoint(
    workdir: str, step: int | None = None, fractions=None, data_config: ConfigDict | None = None
) -> tuple[int, dict]:
    """`top1s` of the checkpoint at `step` (default: the latest) of `workdir`, on the run's
    data or, for transfer, on `data_config`'s (`natjax.evaluation.transfer`)."""
    config, image_shape = checkpoints.read_run(workdir)
    like = checkpoints.abstract_variables(config, image_shape)
    variables = checkpoints.restore_model(workdir, step, like)
    step = step if step is not None else checkpoints.latest_step(workdir)
    if data_config is None:
        dataset = data.load(config.data)
    else:
        dataset = evaluation.transfer(data_config, image_shape)
    variables = jax.tree.map(np.asarray, variables)
    pretrained = Pretrained(config, variables, step, dataset, workdir, data_config is not None)
    return step, top1s(pretrained, fractions)

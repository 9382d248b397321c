"""A run's pieces, made once from its config: the data, the mesh, the model, the optimizer,
the objective and the step's settings (`Run`), and the jitted step."""

import dataclasses
import functools
import logging

import jax
import optax
from ml_collections import ConfigDict

from natjax import data, objectives, views
from natjax.models import NATModel, create_model
from natjax.objectives import Objective, StepConfig
from natjax.parallel import distributed, sharding
from natjax.training.config_checks import check_batch_fits, check_config
from natjax.training.optim import create_optimizer


@dataclasses.dataclass
class Run:
    """What the loop and the evaluation share."""

    config: ConfigDict
    workdir: str
    dataset: data.Dataset
    mesh: jax.sharding.Mesh
    model: NATModel
    tx: optax.GradientTransformation
    objective: Objective
    step_cfg: StepConfig
    total_steps: int


def setup(config: ConfigDict, workdir: str, dataset: data.Dataset | None = None) -> Run:
    """Checks the config, loads the data (unless `dataset` is given: a fine-tune's labelled
    share) and builds model, optimizer, objective and step settings."""
    check_config(config)
    distributed.check_same_config(config)
    dataset = data.load(config.data) if dataset is None else dataset
    objective = objectives.build(config)
    config = _as_run(config, objective, dataset.num_classes)
    check_batch_fits(config.batch_size, len(dataset.train))
    mesh = sharding.make_mesh()
    sharding.check_batch_size(config.batch_size, mesh)
    steps_per_epoch = data.num_steps_per_epoch(len(dataset.train), config.batch_size)
    total_steps = steps_per_epoch * config.num_epochs
    step_cfg = step_config(config, objective, dataset.image_shape, steps_per_epoch)
    tx = create_optimizer(config.optim, total_steps)
    model = create_model(config)
    return Run(config, workdir, dataset, mesh, model, tx, objective, step_cfg, total_steps)


def step_config(
    config: ConfigDict, objective: Objective, image_shape: tuple, steps_per_epoch: int
) -> StepConfig:
    """The step's static settings for images of `image_shape` (`[H, W, ...]`)."""
    return StepConfig(
        steps_per_epoch=steps_per_epoch,
        crop_size=config.input.crop_size or image_shape[0],
        crop_padding=config.input.crop_padding,
        flip=config.input.flip,
        views=view_spec(config, objective),
    )


def view_spec(config: ConfigDict, objective: Objective) -> views.ViewSpec | None:
    """`input.strong` as the step's ViewSpec when `input.views` is "strong" or the objective
    always draws strong views (SimCLR), else None."""
    if config.input.views != "strong" and not objective.strong_views:
        return None
    return views.ViewSpec(**config.input.strong.to_dict(), flip=config.input.flip)


def head_dim(config: ConfigDict, objective: Objective, num_classes: int) -> int:
    """The head's output width the objective trains: a classifier's, or `model.target_dim`."""
    fixed = objective.head_dim(num_classes)
    return config.model.target_dim if fixed is None else fixed


def head_widths(config: ConfigDict, objective: Objective) -> tuple:
    """The head's hidden layers the objective trains through: `model.projection_widths` for
    those with a projection MLP (where not empty), else `model.head_widths`."""
    own = tuple(config.model.get("projection_widths", ()))
    return own if objective.projector and own else tuple(config.model.head_widths)


def _as_run(config: ConfigDict, objective: Objective, num_classes: int) -> ConfigDict:
    """The config as run: a classifier's head (supervised: one output per class; rotation:
    four) is sized by its objective, and a projection MLP's hidden layers are the head's
    (`model.projection_widths`), so `config.json` (which export and evaluation rebuild the
    model from) says so."""
    dim, widths = head_dim(config, objective, num_classes), head_widths(config, objective)
    if config.model.target_dim == dim and tuple(config.model.head_widths) == widths:
        return config
    logging.info("objective=%s: the head is %s -> %d.", config.objective, widths, dim)
    config = config.copy_and_resolve_references()
    config.model.target_dim = dim
    config.model.head_widths = widths
    return config


def compile_step(run: Run):
    """The jitted step (`run.objective`'s): state donated and replicated, batch split over the
    mesh."""
    fn = functools.partial(
        objectives.objective_step,
        model=run.model,
        tx=run.tx,
        cfg=run.step_cfg,
        objective=run.objective,
        mesh=run.mesh,
    )
    replicated = sharding.state_sharding(run.mesh)
    return jax.jit(fn, donate_argnums=0, out_shardings=(replicated, replicated))


def input_shape(run: Run) -> tuple[int, int, int]:
    return views.model_input_shape(run.dataset.image_shape, run.step_cfg.crop_size)

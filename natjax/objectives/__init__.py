"""Training objectives, by `config.objective`: NAT's own step (`natjax.step`), and the others
on one shared skeleton (`skeleton.objective_step`), each in its module."""

import functools

from natjax import step
from natjax.objectives import (
    byol,
    deepcluster,
    instdisc,
    moco,
    rotation,
    simclr,
    simsiam,
    supervised,
    swav,
)
from natjax.objectives.refresh import Refresher
from natjax.objectives.skeleton import Objective, objective_step

_BUILDERS = {
    "supervised": supervised.build,
    "simclr": simclr.build,
    "rotation": rotation.build,
    "instdisc": instdisc.build,
    "simsiam": simsiam.build,
    "byol": byol.build,
    "moco": moco.build,
    "swav": swav.build,
    "deepcluster": deepcluster.build,
}
NAMES = ("nat", *_BUILDERS)


def build(config) -> Objective | None:
    """`config.objective`'s Objective (None for NAT, whose step is its own)."""
    name = config.objective
    return None if name == "nat" else _BUILDERS[name](config)


def step_fn(config):
    """The train step of `config.objective`, `(state, batch, *, model, tx, cfg, mesh)`."""
    objective = build(config)
    if objective is None:
        return step.train_step
    return functools.partial(objective_step, objective=objective)


def head_dim(config, num_classes: int) -> int:
    """The head's output width the objective trains: a classifier's, or `model.target_dim`."""
    objective = build(config)
    fixed = None if objective is None else objective.head_dim(num_classes)
    return config.model.target_dim if fixed is None else fixed


def init_extra(config):
    """The objective's `init_extra(key, num_examples, params)`, or None where it has no
    state."""
    objective = build(config)
    return None if objective is None else objective.init_extra


def strong_views(config) -> bool:
    objective = build(config)
    return objective is not None and objective.strong_views


def needs_labels(config) -> bool:
    objective = build(config)
    return objective is not None and objective.needs_labels


def refresher(config, model, tx, images, step_cfg, mesh) -> Refresher | None:
    """The run's pass over the training set between epochs, or None where its objective has
    none (NAT included)."""
    objective = build(config)
    if objective is None or objective.refresh is None or objective.refresh_every <= 0:
        return None
    return Refresher(objective, model, tx, images, step_cfg, config.batch_size, mesh)

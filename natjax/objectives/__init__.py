"""Training objectives, by `config.objective`, each in its module, all on one shared step
(`skeleton.objective_step`): NAT's (`nat`) and its successors'."""

import functools

from natjax.objectives import (
    byol,
    deepcluster,
    instdisc,
    moco,
    nat,
    rotation,
    simclr,
    simsiam,
    supervised,
    swav,
)
from natjax.objectives.refresh import Refresher
from natjax.objectives.skeleton import Objective, objective_step

_BUILDERS = {
    "nat": lambda config: nat.OBJECTIVE,
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
NAMES = tuple(_BUILDERS)


def build(config) -> Objective:
    """`config.objective`'s Objective."""
    return _BUILDERS[config.objective](config)


def step_fn(config):
    """The train step of `config.objective`, `(state, batch, *, model, tx, cfg, mesh)`."""
    return functools.partial(objective_step, objective=build(config))


def head_dim(config, num_classes: int) -> int:
    """The head's output width the objective trains: a classifier's, or `model.target_dim`."""
    fixed = build(config).head_dim(num_classes)
    return config.model.target_dim if fixed is None else fixed


def head_widths(config) -> tuple:
    """The head's hidden layers the objective trains through: `model.projection_widths` for
    those with a projection MLP (where not empty), else `model.head_widths`."""
    own = tuple(config.model.get("projection_widths", ()))
    return own if build(config).projector and own else tuple(config.model.head_widths)


def init_extra(config):
    """The objective's `init_extra(key, num_examples, params)`, or None where it has no
    state (NAT's assignment is the train state's own `perm`)."""
    return build(config).init_extra


def strong_views(config) -> bool:
    return build(config).strong_views


def needs_labels(config) -> bool:
    return build(config).needs_labels


def refresher(config, model, tx, images, step_cfg, mesh) -> Refresher | None:
    """The run's pass over the training set between epochs, or None where its objective has
    none (NAT included)."""
    objective = build(config)
    if objective.refresh is None or objective.refresh_every <= 0:
        return None
    return Refresher(objective, model, tx, images, step_cfg, config.batch_size, mesh)

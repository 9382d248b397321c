"""BYOL (Grill et al., 2020): two strong views of each image; the online network's projection
of one view, through a predictor MLP, is pulled towards a momentum target network's projection
of the other view (normalised square distance, `2 - 2 cos`), both ways. The target is an
exponential moving average of the online parameters and gets no gradient.

The predictor is `target_dim -> byol.predictor_width -> target_dim` with a ReLU (the paper's,
without its batch norm), the objective's own parameters. The target's momentum rises from
`byol.momentum` at the first step to 1 at the last on the paper's cosine schedule
(`byol.momentum_schedule = "cosine"`), or stays at `byol.momentum` ("constant"). The target
is evaluated in train mode (batch statistics), as the paper's.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from natjax.errors import require
from natjax.models.layers import init_mlp, l2_normalize, mlp
from natjax.objectives.base import PARAMS, TARGET, Objective, Spec, two_views

SCHEDULES = ("cosine", "constant")


def defaults() -> ml_collections.ConfigDict:
    """`config.byol`."""
    c = ml_collections.ConfigDict()
    c.momentum = 0.99  # The target network's at the first step (the paper's 0.996 is for
    # its 1,000-epoch runs: solo-learn's CIFAR runs start at 0.99).
    c.momentum_schedule = "cosine"  # Rising to 1 at the last step, as the paper's; "constant".
    c.predictor_width = 256  # Wider than the projection, as the paper's.
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.byol`."""

    momentum: float
    momentum_schedule: str  # SCHEDULES
    predictor_width: int


def check(config) -> None:
    byol = config.byol
    require(0 <= byol.momentum < 1, "byol.momentum", byol.momentum, "in [0, 1)")
    schedule = byol.momentum_schedule
    require(schedule in SCHEDULES, "byol.momentum_schedule", schedule, " or ".join(SCHEDULES))
    width = byol.predictor_width
    require(width > 0, "byol.predictor_width", width, "a positive integer")


def cosine_momentum(base: float, step: jax.Array, total_steps: int) -> jax.Array:
    """The paper's `1 - (1 - base) (cos(pi k / K) + 1) / 2` at step `k` of `K`: `base` at the
    first step, 1 at the end."""
    k = jnp.minimum(step, total_steps).astype(jnp.float32)
    return 1 - (1 - base) * (jnp.cos(jnp.pi * k / total_steps) + 1) / 2


def regression(p: jax.Array, z: jax.Array) -> jax.Array:
    """Mean of `||p / |p| - z / |z|||^2 = 2 - 2 cos(p, z)`, with `z` held fixed."""
    diff = l2_normalize(p) - l2_normalize(jax.lax.stop_gradient(z))
    return jnp.mean(jnp.sum(jnp.square(diff), -1))


def loss(out: jax.Array, target_out: jax.Array, predictor) -> jax.Array:
    """The symmetric loss of the online projections `out` `[2b, d]` (view 1 of every image,
    then view 2) against the target's projections of the same views."""
    p1, p2 = (mlp(predictor, z) for z in jnp.split(out, 2))
    t1, t2 = jnp.split(target_out, 2)
    return regression(p1, t2) + regression(p2, t1)


def build(config) -> Objective:
    settings = Settings(**config.byol.to_dict())
    dim = config.model.target_dim

    def momentum(step, cfg):
        return cosine_momentum(settings.momentum, step, config.num_epochs * cfg.steps_per_epoch)

    def init_extra(key, num_examples, params):
        del num_examples  # Nothing per image.
        predictor = init_mlp(jax.random.split(key, 2), (dim, settings.predictor_width, dim))
        # A copy: the step donates the state, and one buffer cannot be donated twice.
        return {PARAMS: predictor, TARGET: jax.tree.map(jnp.copy, params)}

    return Objective(
        "byol",
        two_views,
        lambda out, aux, state, ctx: loss(out, ctx.target_out, state[PARAMS]),
        num_views=2,
        strong_views=True,
        init_extra=init_extra,
        target_momentum=momentum if settings.momentum_schedule == "cosine" else settings.momentum,
        projector=True,
    )


SPEC = Spec("byol", "BYOL (predictor, momentum target)", build, defaults, check)

"""SimSiam (Chen and He, 2021): two strong views of each image; a predictor MLP maps one view's
projection to the other's, held fixed (stop-gradient), by negative cosine similarity, both
ways. No negatives, no momentum encoder: the predictor and the stop-gradient keep it from
collapsing.

The projection is the head (hidden layers `model.projection_widths`, output
`model.target_dim`; the paper's has two hidden layers of 2,048 and batch norm on its output,
this one the preset's single hidden layer); the predictor is
`target_dim -> simsiam.predictor_width -> target_dim` with a ReLU (the paper's bottleneck,
without its batch norm), the objective's own parameters in the train state, trained by the
run's optimizer. The views are `input.strong`'s, as SimCLR's.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from natjax.errors import require
from natjax.models.layers import init_mlp, l2_normalize, mlp
from natjax.objectives.base import PARAMS, Objective, Spec, two_views


def defaults() -> ml_collections.ConfigDict:
    """`config.simsiam`."""
    c = ml_collections.ConfigDict()
    # The predictor's bottleneck (target_dim -> this -> target_dim): a quarter, as the paper's.
    c.predictor_width = 16
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.simsiam`."""

    predictor_width: int


def check(config) -> None:
    width = config.simsiam.predictor_width
    require(width > 0, "simsiam.predictor_width", width, "a positive integer")


def negative_cosine(p: jax.Array, z: jax.Array) -> jax.Array:
    """`-mean_i cos(p_i, z_i)`, with `z` held fixed."""
    return -jnp.mean(jnp.sum(l2_normalize(p) * l2_normalize(jax.lax.stop_gradient(z)), -1))


def loss(out: jax.Array, predictor) -> jax.Array:
    """The symmetric loss of projections `[2b, d]` (view 1 of every image, then view 2)."""
    z1, z2 = jnp.split(out, 2)
    p1, p2 = mlp(predictor, z1), mlp(predictor, z2)
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def init_predictor(key: jax.Array, dim: int, width: int) -> list[dict]:
    return init_mlp(jax.random.split(key, 2), (dim, width, dim))


def build(config) -> Objective:
    settings = Settings(**config.simsiam.to_dict())
    dim = config.model.target_dim

    def init_extra(key, num_examples, params):
        del num_examples, params  # Nothing per image; no copy of the model.
        return {PARAMS: init_predictor(key, dim, settings.predictor_width)}

    return Objective(
        "simsiam",
        two_views,
        lambda out, aux, state, ctx: loss(out, state[PARAMS]),
        num_views=2,
        strong_views=True,
        init_extra=init_extra,
        projector=True,
    )


SPEC = Spec("simsiam", "SimSiam (predictor, stop-gradient)", build, defaults, check)

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

from natjax import probes
from natjax.loss import l2_normalize
from natjax.objectives.simclr import two_views
from natjax.objectives.skeleton import Objective


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.simsiam` (its defaults, and why, are in configs/nat.py)."""

    predictor_width: int


def negative_cosine(p: jax.Array, z: jax.Array) -> jax.Array:
    """`-mean_i cos(p_i, z_i)`, with `z` held fixed."""
    return -jnp.mean(jnp.sum(l2_normalize(p) * l2_normalize(jax.lax.stop_gradient(z)), -1))


def loss(out: jax.Array, predictor) -> jax.Array:
    """The symmetric loss of projections `[2b, d]` (view 1 of every image, then view 2)."""
    z1, z2 = jnp.split(out, 2)
    p1, p2 = probes.mlp(predictor, z1), probes.mlp(predictor, z2)
    return 0.5 * negative_cosine(p1, z2) + 0.5 * negative_cosine(p2, z1)


def init_predictor(key: jax.Array, dim: int, width: int) -> list[dict]:
    return probes.init_mlp(jax.random.split(key, 2), (dim, width, dim))


def build(config) -> Objective:
    settings = Settings(**config.simsiam.to_dict())
    dim = config.model.target_dim

    def init_extra(key, num_examples, params):
        del num_examples, params  # Nothing per image; no copy of the model.
        return {"params": init_predictor(key, dim, settings.predictor_width)}

    return Objective(
        "simsiam",
        two_views,
        lambda out, aux, extra: loss(out, extra["params"]),
        num_views=2,
        strong_views=True,
        init_extra=init_extra,
        projector=True,
    )

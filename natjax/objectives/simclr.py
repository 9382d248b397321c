"""SimCLR (Chen et al., 2020): two strong views of each image, and the NT-Xent loss, which makes
each view pick its twin out of the other `2b - 2` views of the global batch.

The views are always strong ones (`input.strong`: crops of 0.2 to 1 of the image, colour
jitter, grayscale), as in the paper, whatever `input.views` asks of NAT; the head is the
projection MLP (`model.projection_widths` for its hidden layers, `model.target_dim` for its
output).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections

from natjax.errors import require
from natjax.models.layers import l2_normalize
from natjax.objectives.base import Objective, Spec, two_views


def nt_xent(out: jax.Array, temperature: float) -> jax.Array:
    """NT-Xent of outputs `[2b, d]` whose rows `i` and `i + b` are views of one image: the mean
    over the `2b` views of `-log softmax` of the twin's cosine similarity / `temperature`,
    against every other view."""
    z = l2_normalize(out)
    n = z.shape[0]
    sims = (z @ z.T) / temperature
    sims = jnp.where(jnp.eye(n, dtype=bool), -jnp.inf, sims)  # A view is not its own twin.
    twin = (jnp.arange(n) + n // 2) % n
    positives = jnp.take_along_axis(sims, twin[:, None], axis=1)[:, 0]
    return jnp.mean(jax.nn.logsumexp(sims, axis=1) - positives)


def defaults() -> ml_collections.ConfigDict:
    """`config.simclr`."""
    c = ml_collections.ConfigDict()
    c.temperature = 0.5  # The paper's CIFAR-10 value.
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.simclr`."""

    temperature: float


def check(config) -> None:
    t = config.simclr.temperature
    require(t > 0, "simclr.temperature", t, "positive")


def build(config) -> Objective:
    settings = Settings(**config.simclr.to_dict())
    loss = functools.partial(_loss, temperature=settings.temperature)
    return Objective("simclr", two_views, loss, num_views=2, strong_views=True, projector=True)


def _loss(out, aux, state, ctx, *, temperature):
    del aux, state, ctx  # The twins are known by position.
    return nt_xent(out, temperature)


SPEC = Spec("simclr", "SimCLR (two strong views, NT-Xent)", build, defaults, check)

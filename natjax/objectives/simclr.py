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

from natjax.loss import l2_normalize
from natjax.objectives.skeleton import Objective
from natjax.views import ViewSpec, strong_view


def two_views(key, batch, cfg):
    """Two strong views of each image, stacked `[2b, S, S, C]`: view 1 of every image, then
    view 2."""
    images = batch["images"]
    keys = (jax.random.fold_in(key, i) for i in (1, 2))
    pair = [strong_view(k, images, cfg.crop_size, cfg.views or ViewSpec()) for k in keys]
    return jnp.concatenate(pair), None


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


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.simclr` (its defaults, and why, are in configs/nat.py)."""

    temperature: float


def build(config) -> Objective:
    settings = Settings(**config.simclr.to_dict())
    loss = functools.partial(_loss, temperature=settings.temperature)
    return Objective("simclr", two_views, loss, num_views=2, strong_views=True, projector=True)


def _loss(out, aux, extra, *, temperature):
    del aux, extra  # The twins are known by position.
    return nt_xent(out, temperature)

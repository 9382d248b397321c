"""The views a train step draws from its key, as the step's settings (`StepConfig`) ask: one
view of each image (`view`: the paper's crop and flip, or a strong view), or two strong views
(`two_views`, the contrastive objectives' pair)."""

import jax
import jax.numpy as jnp

from natjax.views.crops import random_crop_flip
from natjax.views.strong import ViewSpec, strong_view


def view(key: jax.Array, images: jax.Array, cfg) -> jax.Array:
    """One random view `[b, S, S, C]` of each uint8 image `[b, H, W, C]`, drawn from `key`:
    `cfg.views`' strong view where it is set, else the paper's crop of the padded image and
    flip (`cfg.crop_size`, `cfg.crop_padding`, `cfg.flip`)."""
    if cfg.views is not None:
        return strong_view(key, images, cfg.crop_size, cfg.views)
    return random_crop_flip(key, images, cfg.crop_size, cfg.crop_padding, cfg.flip)


def two_views(key: jax.Array, images: jax.Array, cfg) -> jax.Array:
    """Two strong views of each image, stacked `[2b, S, S, C]`: view 1 of every image, then
    view 2 (`cfg.views`, or the default `ViewSpec` where it is unset)."""
    keys = (jax.random.fold_in(key, i) for i in (1, 2))
    pair = [strong_view(k, images, cfg.crop_size, cfg.views or ViewSpec()) for k in keys]
    return jnp.concatenate(pair)

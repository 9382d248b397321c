"""RotNet (Gidaris et al., 2018): each image's view is shown at 0, 90, 180 and 270 degrees, all
four in the batch, and a 4-way classifier on the head predicts which rotation it sees.

The view before rotating is `input.views`' (the paper's crops and flips by default). Its recipe
is the supervised one's learning rate, 0.01: at NAT's 0.05 its loss stays at ln 4 and its
features at chance on CIFAR-10."""

import jax.numpy as jnp

from natjax.objectives import supervised
from natjax.objectives.base import Objective, Spec
from natjax.views import view

ROTATIONS = 4


def rotated_views(key, batch, cfg):
    """`[4b, S, S, C]`: every view turned by 0, 90, 180, 270 degrees (in that order, each a
    block of `b`), and the rotation labels `[4b]`."""
    x = view(key, batch["images"], cfg)
    b = x.shape[0]
    turned = [jnp.rot90(x, k, axes=(1, 2)) for k in range(ROTATIONS)]
    return jnp.concatenate(turned), jnp.repeat(jnp.arange(ROTATIONS), b)


def build(config) -> Objective:
    del config  # No settings of its own.
    return Objective(
        "rotation",
        rotated_views,
        lambda logits, labels, state, ctx: supervised.loss(logits, labels),  # The turns' labels.
        num_views=ROTATIONS,
        head_dim=lambda num_classes: ROTATIONS,
    )


SPEC = Spec("rotation", "RotNet (rotation prediction)", build, recipe=supervised.RECIPE)

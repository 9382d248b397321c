"""The labelled reference: the same views, encoder and optimizer as NAT's run, with
cross-entropy on a head with one output per class, against the images' labels (a sigmoid per
class where images carry several).

Its recipe lowers the learning rate to 0.01: at NAT's 0.05 a classifier's raw logits on the
small convnet's 8,192 flattened CIFAR-10 features do not train (the loss stays near 2.0)."""

import jax.numpy as jnp
import optax

from natjax.objectives.base import Objective, Spec
from natjax.views import view


def views(key, batch, cfg):
    return view(key, batch["images"], cfg), batch["labels"]


def loss(logits, labels):
    """Cross-entropy against class ids `[b]`, or a sigmoid per class against multi-hot labels
    `[b, classes]` (images with several labels, as VOC's)."""
    if labels.ndim == 2:
        return optax.sigmoid_binary_cross_entropy(logits, labels.astype(jnp.float32)).mean()
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def build(config) -> Objective:
    del config  # No settings of its own.
    return Objective(
        "supervised",
        views,
        lambda logits, labels, state, ctx: loss(logits, labels),
        head_dim=lambda num_classes: num_classes,
        needs_labels=True,
    )


RECIPE = {"optim.learning_rate": 0.01}
SPEC = Spec("supervised", "supervised (labels)", build, recipe=RECIPE)

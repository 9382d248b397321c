"""The labelled reference: the same views, encoder and optimizer as NAT's run, with
cross-entropy on a head with one output per class, against the images' labels."""

import optax

from natjax.objectives.skeleton import Objective
from natjax.step import view


def views(key, batch, cfg):
    return view(key, batch["images"], cfg), batch["labels"]


def loss(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def build(config) -> Objective:
    del config  # No settings of its own.
    return Objective(
        "supervised",
        views,
        lambda logits, labels, extra: loss(logits, labels),
        head_dim=lambda num_classes: num_classes,
        needs_labels=True,
    )

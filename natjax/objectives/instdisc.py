"""Instance discrimination (Wu et al., 2018): every image is its own class. A memory bank holds
one unit vector per image; an image's feature is pulled towards its own entry and pushed from
every other by a softmax over the whole bank at temperature `instdisc.temperature`, and its
entry moves towards the feature by `1 - instdisc.momentum` after each step.

NAT's nearest relative: one vector per image, like NAT's targets, but learnt (the bank follows
the features) where NAT's are fixed noise. The softmax is the full one over the `n` entries
(the paper's NCE approximation is not built); the bank lives in the train state (`extra`),
replicated on every device, and is checkpointed with it. The views are strong ones
(`input.strong`), as the paper's crops, colour jitter, grayscale and flips.
"""

import dataclasses
import functools

import jax
import optax

from natjax.loss import l2_normalize
from natjax.objectives.skeleton import Objective
from natjax.step import view


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.instdisc` (its defaults, and why, are in configs/nat.py)."""

    temperature: float
    momentum: float


def views(key, batch, cfg):
    """One strong view of each image, and its id (its class, its bank entry)."""
    return view(key, batch["images"], cfg), batch["ids"]


def init_bank(key: jax.Array, num_examples: int, dim: int) -> dict:
    """The bank at step 0: a random unit vector per image."""
    return {"bank": l2_normalize(jax.random.normal(key, (num_examples, dim)))}


def loss(out: jax.Array, ids: jax.Array, bank: jax.Array, temperature: float) -> jax.Array:
    """Mean of `-log softmax(<f, bank_j> / temperature)` at each image's own entry `j = id`."""
    logits = l2_normalize(out) @ bank.T / temperature  # [b, n]
    return optax.softmax_cross_entropy_with_integer_labels(logits, ids).mean()


def update(out: jax.Array, ids: jax.Array, bank: jax.Array, momentum: float) -> jax.Array:
    """The bank with each image's entry moved towards its feature and renormalised."""
    moved = momentum * bank[ids] + (1 - momentum) * l2_normalize(out)
    return bank.at[ids].set(l2_normalize(moved))


def build(config) -> Objective:
    settings = Settings(**config.instdisc.to_dict())
    dim = config.model.target_dim
    return Objective(
        "instdisc",
        views,
        lambda out, ids, extra: loss(out, ids, extra["bank"], settings.temperature),
        strong_views=True,
        init_extra=functools.partial(_init, dim=dim),
        update=lambda out, ids, extra: {"bank": update(out, ids, extra["bank"], settings.momentum)},
    )


def _init(key, num_examples, params, *, dim):
    del params  # The bank starts as noise.
    return init_bank(key, num_examples, dim)

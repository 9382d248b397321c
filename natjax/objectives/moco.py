"""MoCo v2 (He et al., 2020; Chen et al., 2020): two strong views of each image; the online
network's projection of view 1 (the query) must pick out the momentum target network's
projection of view 2 (its key) from a queue of earlier keys, by a softmax at temperature
`moco.temperature` (InfoNCE). After each step the batch's keys enter the queue and the oldest
leave.

The queue (`moco.queue_size` unit vectors) and the target network live in the objective's
state (`extra`), replicated and checkpointed; the target moves by `moco.momentum` as BYOL's.
v2's settings are the defaults (the projection MLP of `model.projection_widths`, T = 0.2).
v1 is these keys set back to its paper's: `--config.moco.temperature=0.07
--config.moco.momentum=0.999 "--config.model.projection_widths=()"` (a linear head) and its views,
colour jitter always and hue up to 0.4 of a turn (`--config.input.strong.jitter_prob=1
--config.input.strong.hue=0.4`; no blur in either). Batch norm is global over the batch here,
as MoCo v3's synchronised one: the paper's shuffled BN guards against the statistics of a
per-device batch giving the key away, and no per-device batch exists here.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import optax

from natjax.errors import require
from natjax.models.layers import l2_normalize
from natjax.objectives.base import TARGET, Objective, Spec, two_views


def defaults() -> ml_collections.ConfigDict:
    """`config.moco` (v2's)."""
    c = ml_collections.ConfigDict()
    c.queue_size = 4096
    c.temperature = 0.2  # v2's.
    c.momentum = 0.99  # v2 uses 0.999 for its long ImageNet runs.
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.moco`."""

    queue_size: int
    temperature: float
    momentum: float


def check(config) -> None:
    moco = config.moco
    require(moco.queue_size > 0, "moco.queue_size", moco.queue_size, "a positive integer")
    require(moco.temperature > 0, "moco.temperature", moco.temperature, "positive")
    require(0 <= moco.momentum < 1, "moco.momentum", moco.momentum, "in [0, 1)")


def info_nce(query: jax.Array, key: jax.Array, queue: jax.Array, temperature: float):
    """Mean of `-log softmax` of each query's own key against the queue's keys; `key` is held
    fixed."""
    q, k = l2_normalize(query), jax.lax.stop_gradient(l2_normalize(key))
    positive = jnp.sum(q * k, -1, keepdims=True)  # [b, 1]
    logits = jnp.concatenate([positive, q @ queue.T], -1) / temperature  # [b, 1 + K]
    labels = jnp.zeros(q.shape[0], jnp.int32)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def enqueue(queue: jax.Array, key: jax.Array) -> jax.Array:
    """The queue with the batch's unit keys first and as many of the oldest dropped."""
    return jnp.concatenate([l2_normalize(key), queue])[: queue.shape[0]]


def build(config) -> Objective:
    settings = Settings(**config.moco.to_dict())
    dim = config.model.target_dim

    def init_extra(key, num_examples, params):
        del num_examples  # Nothing per image.
        queue = l2_normalize(jax.random.normal(key, (settings.queue_size, dim)))
        return {"queue": queue, TARGET: jax.tree.map(jnp.copy, params)}

    def loss(out, aux, state, ctx):
        del aux
        query, key = jnp.split(out, 2)[0], jnp.split(ctx.target_out, 2)[1]
        return info_nce(query, key, state["queue"], settings.temperature)

    def update(out, aux, state, ctx):
        del out, aux
        return {**state, "queue": enqueue(state["queue"], jnp.split(ctx.target_out, 2)[1])}

    return Objective(
        "moco",
        two_views,
        loss,
        num_views=2,
        strong_views=True,
        init_extra=init_extra,
        update=update,
        target_momentum=settings.momentum,
        projector=True,
    )


SPEC = Spec("moco", "MoCo v2 (momentum target, queue)", build, defaults, check)

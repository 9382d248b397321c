"""SwAV (Caron et al., 2020): two strong views of each image; each view's projection is scored
against `swav.prototypes` learnable unit prototypes, the scores of the whole global batch are
turned into soft codes with equal use of every prototype by a few Sinkhorn-Knopp iterations
(on device, inside the step, like NAT's assignment), and each view predicts the other view's
codes (cross-entropy of its softmax at temperature `swav.temperature`): "swapped prediction".

NAT's closest successor in spirit: an equipartitioned assignment of the batch to fixed-size
targets, relaxed from a permutation to a transport plan. The prototypes are the objective's
own parameters (normalised where used), trained by the run's optimizer. `swav.queue_size = L
> 0` keeps the last `L` unit projections of each view (the paper's queue for small batches):
once it is full, Sinkhorn spreads the prototypes over the queue's rows and the batch's
together, and the batch's codes are its own rows of that plan. Not built: multi-crop.
"""

import dataclasses

import jax
import jax.numpy as jnp

from natjax.loss import l2_normalize
from natjax.objectives.simclr import two_views
from natjax.objectives.skeleton import Objective


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.swav` (its defaults, and why, are in configs/nat.py)."""

    prototypes: int
    temperature: float
    epsilon: float  # Sinkhorn's entropic regularisation.
    sinkhorn_iterations: int
    queue_size: int  # 0: no queue.


def sinkhorn(scores: jax.Array, epsilon: float, iterations: int) -> jax.Array:
    """Soft codes `[b, K]` of scores `[b, K]`: `exp(scores / epsilon)` scaled so that every
    prototype gets `b / K` of the batch's mass and every row sums to 1."""
    q = jnp.exp((scores - jnp.max(scores)) / epsilon).T  # [K, b]
    q = q / jnp.sum(q)
    k, b = q.shape
    for _ in range(iterations):
        q = q / jnp.sum(q, axis=1, keepdims=True) / k  # Each prototype: 1 / K of the mass.
        q = q / jnp.sum(q, axis=0, keepdims=True) / b  # Each image: 1 / b.
    return (q * b).T


def codes(scores: jax.Array, queued: jax.Array, settings: Settings) -> jax.Array:
    """The batch's soft codes `[b, K]`: Sinkhorn on its scores alone, or, where the queue of
    earlier scores `queued` `[L, K]` is full (its last row non-zero), on both together."""
    run = lambda s: sinkhorn(s, settings.epsilon, settings.sinkhorn_iterations)  # noqa: E731
    if not len(queued):
        return jax.lax.stop_gradient(run(scores))
    b = len(scores)
    with_queue = run(jnp.concatenate([queued, scores]))[-b:]
    full = jnp.any(queued[-1] != 0)
    return jax.lax.stop_gradient(jnp.where(full, with_queue, run(scores)))


def loss(
    out: jax.Array, prototypes: jax.Array, settings: Settings, queue: jax.Array | None = None
) -> jax.Array:
    """Swapped prediction of projections `[2b, d]` (view 1 of every image, then view 2), with
    each view's queue of earlier unit projections `[2, L, d]` where there is one."""
    protos = l2_normalize(prototypes)
    scores = l2_normalize(out) @ protos.T  # [2b, K]
    s1, s2 = jnp.split(scores, 2)
    queued = [jnp.zeros((0, len(protos)))] * 2 if queue is None else [q @ protos.T for q in queue]
    codes_ = [codes(s, q, settings) for s, q in zip((s1, s2), queued, strict=True)]
    logp = [jax.nn.log_softmax(s / settings.temperature) for s in (s1, s2)]
    return -0.5 * jnp.mean(jnp.sum(codes_[1] * logp[0] + codes_[0] * logp[1], -1))


def enqueue(queue: jax.Array, out: jax.Array) -> jax.Array:
    """Each view's queue `[2, L, d]` with the batch's unit projections first (view 1's in the
    first queue), the oldest dropped."""
    new = jnp.stack(jnp.split(l2_normalize(out), 2))  # [2, b, d]
    return jnp.concatenate([new, queue], axis=1)[:, : queue.shape[1]]


def build(config) -> Objective:
    settings = Settings(**config.swav.to_dict())
    dim = config.model.target_dim

    queued = settings.queue_size > 0

    def init_extra(key, num_examples, params):
        del num_examples, params  # Nothing per image; no copy of the model.
        prototypes = l2_normalize(jax.random.normal(key, (settings.prototypes, dim)))
        queue = {"queue": jnp.zeros((2, settings.queue_size, dim))} if queued else {}
        return {"params": prototypes, **queue}

    def update(out, aux, extra):
        return {**extra, "queue": enqueue(extra["queue"], out)} if queued else extra

    return Objective(
        "swav",
        two_views,
        lambda out, aux, extra: loss(out, extra["params"], settings, extra.get("queue")),
        num_views=2,
        strong_views=True,
        init_extra=init_extra,
        update=update,
    )

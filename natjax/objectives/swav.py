"""SwAV (Caron et al., 2020): two strong views of each image; each view's projection is scored
against `swav.prototypes` learnable unit prototypes, the scores of the whole global batch are
turned into soft codes with equal use of every prototype by a few Sinkhorn-Knopp iterations
(on device, inside the step, like NAT's assignment), and each view predicts the other view's
codes (cross-entropy of its softmax at temperature `swav.temperature`): "swapped prediction".

NAT's closest successor in spirit: an equipartitioned assignment of the batch to fixed-size
targets, relaxed from a permutation to a transport plan. The prototypes are the objective's
own parameters (normalised where used), trained by the run's optimizer. Not built: multi-crop
and the feature queue of small batches.
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


def loss(out: jax.Array, prototypes: jax.Array, settings: Settings) -> jax.Array:
    """Swapped prediction of projections `[2b, d]` (view 1 of every image, then view 2)."""
    scores = l2_normalize(out) @ l2_normalize(prototypes).T  # [2b, K]
    s1, s2 = jnp.split(scores, 2)
    codes = [
        jax.lax.stop_gradient(sinkhorn(s, settings.epsilon, settings.sinkhorn_iterations))
        for s in (s1, s2)
    ]
    logp = [jax.nn.log_softmax(s / settings.temperature) for s in (s1, s2)]
    return -0.5 * jnp.mean(jnp.sum(codes[1] * logp[0] + codes[0] * logp[1], -1))


def build(config) -> Objective:
    settings = Settings(**config.swav.to_dict())
    dim = config.model.target_dim

    def init_extra(key, num_examples, params):
        del num_examples, params  # Nothing per image; no copy of the model.
        return {"params": l2_normalize(jax.random.normal(key, (settings.prototypes, dim)))}

    return Objective(
        "swav",
        two_views,
        lambda out, aux, extra: loss(out, extra["params"], settings),
        num_views=2,
        strong_views=True,
        init_extra=init_extra,
    )

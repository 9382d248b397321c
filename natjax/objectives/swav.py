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
together, and the batch's codes are its own rows of that plan.

Multi-crop (`swav.small_crops = V > 0`, the paper's 6): besides the two views, V small crops
of each image (areas `swav.small_crop_scale` of the image, `swav.small_crop_size` px, by
default the paper's 96/224 of the crop size) are forwarded as a second group; codes come from
the two large views only, and each view's codes are predicted by every other crop, the loss
averaged over those `V + 1` predictions as the paper's code does. Its encoder must give features
of one width at any input size (a ResNet, or the small convnet with `model.pool=avg`).
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from natjax.errors import UserError, require
from natjax.models.layers import l2_normalize
from natjax.objectives.base import PARAMS, Objective, Spec, two_views
from natjax.views import ViewSpec, strong_view


def defaults() -> ml_collections.ConfigDict:
    """`config.swav`."""
    c = ml_collections.ConfigDict()
    c.prototypes = 30  # Three per class of 10-class data, as the paper's 3000 for 1000.
    c.temperature = 0.1
    c.epsilon = 0.05  # Sinkhorn's entropic regularisation.
    c.sinkhorn_iterations = 3
    # Earlier projections kept per view for Sinkhorn; 0: none. The paper queues 3,840 for
    # batches of 256 on ImageNet, where 3,000 prototypes outnumber the batch; 30 do not.
    c.queue_size = 0
    # Multi-crop: small crops besides the two views (the paper's 6; off by default, as in
    # solo-learn's default CIFAR runs). Needs features of one width at any size (a ResNet, or
    # `model.pool=avg`).
    c.small_crops = 0
    c.small_crop_size = 0  # Pixels; 0: 96/224 of the crop size, as the paper's 96 of 224.
    c.small_crop_scale = (0.05, 0.14)  # The paper's area shares.
    return c


def check(config) -> None:
    c = config.swav
    for key in ("temperature", "epsilon"):
        require(c[key] > 0, f"swav.{key}", c[key], "positive")
    for key in ("prototypes", "sinkhorn_iterations"):
        require(c[key] > 0, f"swav.{key}", c[key], "a positive integer")
    require(
        c.queue_size >= 0, "swav.queue_size", c.queue_size, "0 (no queue) or a positive integer"
    )
    _check_multi_crop(config)


def _check_multi_crop(config) -> None:
    """The small crops: how many, their size and area, and an encoder that takes them."""
    c = config.swav
    for key in ("small_crops", "small_crop_size"):
        require(
            c[key] >= 0, f"swav.{key}", c[key], "0 (none, or the default) or a positive integer"
        )
    low, high = c.small_crop_scale
    require(
        0 < low <= high <= 1,
        "swav.small_crop_scale",
        (low, high),
        "(low, high), 0 < low <= high <= 1",
    )
    model = config.model
    flattened = model.encoder == "alexnet_bn" or (
        model.encoder == "small_convnet" and model.pool == "flatten"
    )
    if config.objective == "swav" and c.small_crops and flattened:
        raise UserError(
            f"--config.swav.small_crops={c.small_crops} needs features of one width at "
            f"every crop size, but model.encoder={model.encoder!r} flattens its last feature "
            "map: add --config.model.pool=avg (the small convnet), use a ResNet, or set "
            "--config.swav.small_crops=0."
        )


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.swav`."""

    prototypes: int
    temperature: float
    epsilon: float  # Sinkhorn's entropic regularisation.
    sinkhorn_iterations: int
    queue_size: int  # 0: no queue.
    small_crops: int = 0  # Multi-crop's V; 0: the two views alone.
    small_crop_size: int = 0  # Pixels; 0: 96/224 of the large crops', as the paper's.
    small_crop_scale: tuple = (0.05, 0.14)  # (smallest, largest) area share of a small crop.


def small_size(settings: Settings, crop_size: int) -> int:
    return settings.small_crop_size or max(1, round(crop_size * 96 / 224))


def multi_crop(settings: Settings):
    """The views of multi-crop: `([2b, S, S, C], [V * b, s, s, C])`, the two views as SimCLR's
    (view 1 of every image, then view 2), then the small crops (small crop 1 of every image,
    then 2, ...)."""

    def views(key, batch, cfg):
        large, _ = two_views(key, batch, cfg)
        low, high = settings.small_crop_scale
        spec = dataclasses.replace(cfg.views or ViewSpec(), min_scale=low, max_scale=high)
        size = small_size(settings, cfg.crop_size)
        keys = (jax.random.fold_in(key, 3 + i) for i in range(settings.small_crops))
        small = [strong_view(k, batch["images"], size, spec) for k in keys]
        return (large, jnp.concatenate(small)), None

    return views


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
    """Swapped prediction of projections `[(2 + V) b, d]` (view 1 of every image, then view 2,
    then the V small crops'), with each view's queue of earlier unit projections `[2, L, d]`
    where there is one: each view's codes are predicted by every other crop."""
    protos = l2_normalize(prototypes)
    n = 2 + settings.small_crops
    scores = jnp.split(l2_normalize(out) @ protos.T, n)  # n x [b, K]
    queued = [jnp.zeros((0, len(protos)))] * 2 if queue is None else [q @ protos.T for q in queue]
    codes_ = [codes(s, q, settings) for s, q in zip(scores[:2], queued, strict=True)]
    logp = [jax.nn.log_softmax(s / settings.temperature) for s in scores]
    terms = [codes_[i] * logp[v] for i in (0, 1) for v in range(n) if v != i]
    return -0.5 * jnp.mean(jnp.sum(sum(terms) / (n - 1), -1))


def enqueue(queue: jax.Array, out: jax.Array) -> jax.Array:
    """Each view's queue `[2, L, d]` with the batch's unit projections first (view 1's in the
    first queue), the oldest dropped."""
    new = jnp.stack(jnp.split(l2_normalize(out), 2))  # [2, b, d]
    return jnp.concatenate([new, queue], axis=1)[:, : queue.shape[1]]


def build(config) -> Objective:
    swav = config.swav.to_dict()
    settings = Settings(**{**swav, "small_crop_scale": tuple(swav["small_crop_scale"])})
    dim = config.model.target_dim

    queued = settings.queue_size > 0

    def init_extra(key, num_examples, params):
        del num_examples, params  # Nothing per image; no copy of the model.
        prototypes = l2_normalize(jax.random.normal(key, (settings.prototypes, dim)))
        queue = {"queue": jnp.zeros((2, settings.queue_size, dim))} if queued else {}
        return {PARAMS: prototypes, **queue}

    def update(out, aux, state, ctx):
        if not queued:
            return state
        views = jnp.split(out, 2 + settings.small_crops)[:2]  # The codes' views alone.
        return {**state, "queue": enqueue(state["queue"], jnp.concatenate(views))}

    return Objective(
        "swav",
        multi_crop(settings) if settings.small_crops else two_views,
        lambda out, aux, state, ctx: loss(out, state[PARAMS], settings, state.get("queue")),
        num_views=2 + settings.small_crops,
        strong_views=True,
        init_extra=init_extra,
        update=update,
        projector=True,
    )


SPEC = Spec("swav", "SwAV (prototypes, Sinkhorn, swapped prediction)", build, defaults, check)

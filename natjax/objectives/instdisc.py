"""Instance discrimination (Wu et al., 2018): every image is its own class. A memory bank holds
one unit vector per image; an image's feature is pulled towards its own entry and pushed from
every other by a softmax over the whole bank at temperature `instdisc.temperature`, and its
entry moves towards the feature by `1 - instdisc.momentum` after each step.

NAT's nearest relative: one vector per image, like NAT's targets, but learnt (the bank follows
the features) where NAT's are fixed noise. By default the softmax is the full one over the `n`
entries; `instdisc.nce_negatives = m > 0` replaces it by the paper's noise-contrastive
estimate: `m` entries drawn uniformly each step (shared by the batch, where the paper draws
them per image) against the image's own, with the softmax's normaliser `Z` estimated on the
first step and then fixed, as the paper's code does. The bank (and `Z`) live in the train state
(`extra`), replicated on every device, and are checkpointed with it. The views are strong ones
(`input.strong`), as the paper's crops, colour jitter, grayscale and flips.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
import optax

from natjax.errors import require
from natjax.models.layers import l2_normalize
from natjax.objectives.base import Found, Objective, Spec
from natjax.views import view


def defaults() -> ml_collections.ConfigDict:
    """`config.instdisc`."""
    c = ml_collections.ConfigDict()
    c.temperature = 0.07  # The paper's.
    c.momentum = 0.5  # Memory bank entry <- momentum * entry + (1 - momentum) * feature.
    # 0: the full softmax over the bank; m > 0: the paper's NCE with m noise entries a step
    # (the paper's 4,096 for 1.28M images; the full softmax is cheap at 60,000).
    c.nce_negatives = 0
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.instdisc`."""

    temperature: float
    momentum: float
    nce_negatives: int  # 0: the full softmax.


def check(config) -> None:
    c = config.instdisc
    require(c.temperature > 0, "instdisc.temperature", c.temperature, "positive")
    require(0 <= c.momentum < 1, "instdisc.momentum", c.momentum, "in [0, 1)")
    m = c.nce_negatives
    require(m >= 0, "instdisc.nce_negatives", m, "0 (the full softmax) or a positive integer")


def views(key, batch, cfg):
    """One strong view of each image, and its id (its class, its bank entry)."""
    return view(key, batch["images"], cfg), batch["ids"]


def nce_views(key, batch, cfg):
    """`views`, and a key for the step's noise entries."""
    view_key, noise_key = jax.random.split(key)
    x, ids = views(view_key, batch, cfg)
    return x, (ids, noise_key)


def init_bank(key: jax.Array, num_examples: int, dim: int) -> dict:
    """The bank at step 0: a random unit vector per image."""
    return {"bank": l2_normalize(jax.random.normal(key, (num_examples, dim)))}


def loss(out: jax.Array, ids: jax.Array, bank: jax.Array, temperature: float) -> jax.Array:
    """Mean of `-log softmax(<f, bank_j> / temperature)` at each image's own entry `j = id`."""
    logits = l2_normalize(out) @ bank.T / temperature  # [b, n]
    return optax.softmax_cross_entropy_with_integer_labels(logits, ids).mean()


def nce_loss(out, ids, noise, bank, z, temperature: float) -> tuple[jax.Array, jax.Array]:
    """The NCE loss of each image's own entry against the `m` noise entries `noise` `[m]`,
    with `P(j | f) = exp(<f, bank_j> / temperature) / Z` and noise `P_n(j) = 1 / n`; `Z` is
    `z`, or where `z` is still 0 its estimate `n * mean(exp(...))` on this batch. Returns the
    mean loss and the `Z` used."""
    n, m = len(bank), len(noise)
    f = l2_normalize(out)
    own = jnp.exp(jnp.sum(f * bank[ids], -1) / temperature)  # [b]
    others = jnp.exp(f @ bank[noise].T / temperature)  # [b, m]
    estimate = jax.lax.stop_gradient(n * jnp.mean(jnp.concatenate([own[:, None], others], 1)))
    z = jnp.where(z > 0, z, estimate)
    noise_mass = m / n  # m * P_n(j)
    p_own, p_others = own / z, others / z
    loss = -jnp.log(p_own / (p_own + noise_mass))
    loss -= jnp.sum(jnp.log(noise_mass / (p_others + noise_mass)), -1)
    return jnp.mean(loss), z


def update(out: jax.Array, ids: jax.Array, bank: jax.Array, momentum: float) -> jax.Array:
    """The bank with each image's entry moved towards its feature and renormalised."""
    moved = momentum * bank[ids] + (1 - momentum) * l2_normalize(out)
    return bank.at[ids].set(l2_normalize(moved))


def build(config) -> Objective:
    settings = Settings(**config.instdisc.to_dict())
    dim = config.model.target_dim
    if settings.nce_negatives > 0:
        return _nce(settings, dim)
    return Objective(
        "instdisc",
        views,
        lambda out, ids, state, ctx: loss(out, ids, state["bank"], settings.temperature),
        strong_views=True,
        init_extra=functools.partial(_init, dim=dim),
        update=lambda out, ids, state, ctx: {
            "bank": update(out, ids, state["bank"], settings.momentum)
        },
    )


def _nce(settings: Settings, dim: int) -> Objective:
    """InstDisc with the NCE estimate of its softmax; `extra` holds the bank and `Z`."""

    def nce(out, aux, state, ctx):
        ids, noise_key = aux
        noise = jax.random.randint(noise_key, (settings.nce_negatives,), 0, len(state["bank"]))
        value, z = nce_loss(out, ids, noise, state["bank"], state["z"], settings.temperature)
        return value, Found(state={"z": z})

    def moved(out, aux, state, ctx):
        return {"bank": update(out, aux[0], state["bank"], settings.momentum), "z": state["z"]}

    def init(key, num_examples, params):
        return {**_init(key, num_examples, params, dim=dim), "z": jnp.zeros((), jnp.float32)}

    return Objective("instdisc", nce_views, nce, strong_views=True, init_extra=init, update=moved)


def _init(key, num_examples, params, *, dim):
    del params  # The bank starts as noise.
    return init_bank(key, num_examples, dim)


SPEC = Spec("instdisc", "InstDisc (memory bank, full softmax)", build, defaults, check)

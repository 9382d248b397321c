"""Starting prices for the auction: near-optimal dual prices from a few Sinkhorn iterations.

The auction is exact from any starting prices; prices close to the optimal dual ones only
save rounds. NAT's scores at initialisation are nearly the same in every row (the features are
nearly parallel), so from zero prices every row wants the same columns and the auction spends
thousands of rounds raising their prices by small steps (a "price war"). The column potentials
of entropy-regularised optimal transport on the same scores, a few log-domain Sinkhorn
iterations away, already hold most of those price differences.
"""

import jax
import jax.numpy as jnp


def sinkhorn_prices(benefits: jax.Array, iterations: int, temperature: float) -> jax.Array:
    """Column potentials of `iterations` log-domain Sinkhorn iterations on int32 `benefits`
    `[b, b]` (scaled to [0, 1]; `temperature` on that scale), as int32 prices in
    `[0, max(benefits)]`."""
    span = jnp.maximum(jnp.max(benefits), 1).astype(jnp.float32)
    x = benefits.astype(jnp.float32) / span  # [b, b] in [0, 1]

    g = x[0] * 0  # Zeros built from x, so that inside shard_map g varies as x does.
    for _ in range(iterations):  # Unrolled: two fused reductions each, no loop to check.
        f = temperature * jax.nn.logsumexp((x - g[None, :]) / temperature, axis=1)  # rows
        g = temperature * jax.nn.logsumexp((x - f[:, None]) / temperature, axis=0)  # cols
    return jnp.clip(jnp.round((g - jnp.min(g)) * span), 0, span).astype(jnp.int32)

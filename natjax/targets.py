"""NAT's fixed targets: target `j` is regenerated on device from `(seed, j)`, never stored.

Target `j` is a standard normal vector drawn from `fold_in(key(seed), j)` divided by its norm,
i.e. a uniform point on the unit sphere of R^d. Only the assignment (n int32) is kept as state.
"""

import jax
import jax.numpy as jnp


def targets(seed: int, ids: jax.Array, dim: int) -> jax.Array:
    """The unit-norm targets of `ids` (int `[b]`): float32 `[b, dim]`."""
    key = jax.random.key(seed)

    def one(j):
        v = jax.random.normal(jax.random.fold_in(key, j), (dim,), jnp.float32)
        return v / jnp.linalg.norm(v)

    return jax.vmap(one)(ids)

"""NAT's fixed targets: target `j` is regenerated on device from `(seed, j)`, never stored.

Target `j` is a standard normal vector drawn from `fold_in(key(seed), j)` divided by its norm,
i.e. a uniform point on the unit sphere of R^d. Only the assignment (n int32) is kept as state.

The paper's discrete ablation replaces them with replicated one-hot vectors of the canonical
basis: target `j` is `e_(j mod d)`, so each of the d "clusters" owns n/d images.
"""

import jax
import jax.numpy as jnp

KINDS = ("continuous", "discrete")


def targets(seed: int, ids: jax.Array, dim: int, kind: str = "continuous") -> jax.Array:
    """The unit-norm targets of `ids` (int `[b]`): float32 `[b, dim]`; `kind` is one of KINDS."""
    if kind == "discrete":
        return jax.nn.one_hot(ids % dim, dim, dtype=jnp.float32)
    if kind != "continuous":
        raise ValueError(f"Unknown target kind {kind!r}; use one of {', '.join(KINDS)}.")
    key = jax.random.key(seed)

    def one(j):
        v = jax.random.normal(jax.random.fold_in(key, j), (dim,), jnp.float32)
        return v / jnp.linalg.norm(v)

    return jax.vmap(one)(ids)

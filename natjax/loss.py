"""NAT's square loss on features projected onto the unit sphere."""

import jax
import jax.numpy as jnp


def l2_normalize(x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Rows of `x` divided by their L2 norm (kept finite for an all-zero row)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)


def square_loss(z: jax.Array, targets: jax.Array) -> jax.Array:
    """`(1/b) sum_i ||z_i - c_i||^2` for unit-norm `z` and `targets`, both `[b, d]`."""
    return jnp.mean(jnp.sum(jnp.square(z - targets), axis=-1))

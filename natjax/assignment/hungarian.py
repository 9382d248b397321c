"""Exact assignment with optax's jittable Hungarian algorithm (sequential, O(b^3))."""

import jax
import jax.numpy as jnp
import optax


def solve_hungarian(scores: jax.Array) -> jax.Array:
    """The score-maximising permutation of `scores` `[b, b]`: int32 `[b]`."""
    rows, cols = optax.assignment.hungarian_algorithm(-scores)
    return jnp.zeros(scores.shape[0], jnp.int32).at[rows].set(cols.astype(jnp.int32))

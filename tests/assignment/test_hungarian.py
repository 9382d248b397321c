"""optax's Hungarian algorithm as a solver (`natjax.assignment.hungarian`): the permutation of
the best total, found by trying every permutation of small problems, inside jit."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from natjax.assignment.hungarian import solve_hungarian


def best_total(scores: np.ndarray) -> float:
    b = len(scores)
    return max(scores[np.arange(b), list(p)].sum() for p in itertools.permutations(range(b)))


def test_hungarian_finds_the_best_of_every_permutation():
    solve = jax.jit(solve_hungarian)
    for seed in range(5):
        scores = np.random.default_rng(seed).normal(size=(6, 6)).astype(np.float32)
        perm = np.asarray(solve(jnp.asarray(scores)))
        assert perm.dtype == np.int32 and sorted(perm) == list(range(6))
        assert scores[np.arange(6), perm].sum() == np.float32(best_total(scores))

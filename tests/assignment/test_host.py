"""SciPy on the host as a solver (`natjax.assignment.host`): reachable from jitted and vmapped
code through a callback, and the image-to-column permutation `linear_sum_assignment` finds."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from natjax.assignment.host import solve_scipy


def test_the_callback_gives_scipys_permutation_under_jit_and_vmap():
    scores = np.random.default_rng(0).normal(size=(3, 7, 7)).astype(np.float32)
    perms = np.asarray(jax.jit(jax.vmap(solve_scipy))(jnp.asarray(scores)))
    assert perms.dtype == np.int32 and perms.shape == (3, 7)
    for s, perm in zip(scores, perms, strict=True):
        rows, cols = linear_sum_assignment(s.astype(np.float64), maximize=True)
        np.testing.assert_array_equal(perm[rows], cols)

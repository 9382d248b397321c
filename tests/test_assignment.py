import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from natjax import assignment


def optimum(scores: np.ndarray) -> float:
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, cols].sum())


def total(scores: np.ndarray, perm) -> float:
    perm = np.asarray(perm)
    assert sorted(perm.tolist()) == list(range(len(scores))), "not a permutation"
    return float(scores[np.arange(len(scores)), perm].sum())


def score_matrices(b: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(b, 16))
    t = rng.normal(size=(b, 16))
    return {
        "random": rng.normal(size=(b, b)),
        "low_rank": (f / np.linalg.norm(f, axis=1, keepdims=True))
        @ (t / np.linalg.norm(t, axis=1, keepdims=True)).T,
        "integer_ties": rng.integers(0, 3, (b, b)).astype(float),
        "all_equal": np.ones((b, b)),
    }


@pytest.mark.parametrize("method", ["hungarian", "scipy"])
@pytest.mark.parametrize("b", [1, 2, 3, 17, 64])
def test_solvers_reach_scipys_optimum(method, b):
    solve = jax.jit(lambda s: assignment.solve(s, method))
    for name, scores in score_matrices(b, seed=b).items():
        scores = scores.astype(np.float32)
        perm = solve(jnp.asarray(scores))
        assert perm.dtype == jnp.int32
        np.testing.assert_allclose(
            total(scores, perm), optimum(scores), rtol=1e-5, atol=1e-4, err_msg=name
        )


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 12), seed=st.integers(0, 2**16), levels=st.integers(1, 4))
def test_hungarian_is_optimal_on_tied_integer_scores(b, seed, levels):
    scores = np.random.default_rng(seed).integers(0, levels, (b, b)).astype(np.float32)
    perm = assignment.solve(jnp.asarray(scores), "hungarian")
    assert total(scores, perm) == optimum(scores)


def test_solve_works_under_vmap():
    scores = np.random.default_rng(0).normal(size=(4, 9, 9)).astype(np.float32)
    perms = jax.jit(jax.vmap(lambda s: assignment.solve(s, "hungarian")))(scores)
    for s, p in zip(scores, perms, strict=True):
        np.testing.assert_allclose(total(s, p), optimum(s), rtol=1e-5)


def test_solve_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        assignment.solve(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="Unknown assignment method"):
        assignment.solve(jnp.zeros((3, 3)), "magic")

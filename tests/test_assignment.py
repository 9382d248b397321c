import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from natjax import assignment
from natjax.assignment.auction import auction


def optimum(scores: np.ndarray) -> float:
    scores = scores.astype(np.float64)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, cols].sum())


def total(scores: np.ndarray, perm) -> float:
    perm = np.asarray(perm)
    assert sorted(perm.tolist()) == list(range(len(scores))), "not a permutation"
    return float(scores.astype(np.float64)[np.arange(len(scores)), perm].sum())


def auction_gap_bound(scores: np.ndarray) -> float:
    """The auction's guarantee (auction.py): within b * range / L of the optimum."""
    b = len(scores)
    levels = (1 << 29) // (b + 1)
    return b * float(scores.max() - scores.min()) / levels


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def score_matrices(b: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(b, b))
    dup_rows = base.copy()
    dup_rows[1::2] = dup_rows[::2][: b // 2]
    return {
        "random": base,
        "low_rank": unit(rng.normal(size=(b, 16))) @ unit(rng.normal(size=(b, 16))).T,
        "integer": rng.integers(-5, 6, (b, b)).astype(float),
        "all_equal": np.full((b, b), 0.25),
        "duplicated_rows": dup_rows,
        "duplicated_cols": dup_rows.T.copy(),
        "huge_range": base * 1e6,
        "tiny_range": base * 1e-6 + 3.0,
    }


SIZES = {"auction": [1, 2, 3, 17, 256, 1024], "hungarian": [1, 2, 3, 17, 64], "scipy": [1, 3, 64]}


@pytest.mark.parametrize(("method", "b"), [(m, b) for m, sizes in SIZES.items() for b in sizes])
def test_solvers_reach_scipys_optimum(method, b):
    solve = jax.jit(lambda s: assignment.solve(s, method))
    for name, scores in score_matrices(b, seed=b).items():
        scores = scores.astype(np.float32)
        perm = solve(jnp.asarray(scores))
        assert perm.dtype == jnp.int32 and perm.shape == (b,)
        gap = optimum(scores) - total(scores, perm)
        # Exact solvers: float64 summation noise only. Auction: its stated guarantee.
        bound = auction_gap_bound(scores) if method == "auction" else 0.0
        assert -1e-9 <= gap <= bound + 1e-6 * abs(optimum(scores)) + 1e-9, (name, gap, bound)


@pytest.mark.parametrize("b", [3, 17, 256])
def test_auction_is_exact_on_integer_scores(b):
    scores = np.random.default_rng(b).integers(0, 100, (b, b)).astype(np.float32)
    result = jax.jit(auction)(jnp.asarray(scores))
    assert bool(result.converged) and int(result.rounds) > 0
    assert total(scores, result.perm) == optimum(scores)


@pytest.mark.parametrize("bidders", [1, 4, 64])
@pytest.mark.parametrize("b", [17, 64])
def test_every_auction_kernel_reaches_the_optimum(bidders, b):
    """The CPU default (one bidder), the block kernel (the accelerator default) and the wide
    Jacobi kernel (bidders >= b), all on CPU, since CI has no accelerator."""
    solve = jax.jit(lambda s: auction(s, bidders=bidders))
    for name, scores in score_matrices(b, seed=b + bidders).items():
        scores = scores.astype(np.float32)
        result = solve(jnp.asarray(scores))
        assert bool(result.converged), name
        gap = optimum(scores) - total(scores, result.perm)
        assert -1e-9 <= gap <= auction_gap_bound(scores) + 1e-6 * abs(optimum(scores)), name


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    levels=st.integers(1, 4),
    method=st.sampled_from(["auction", "hungarian"]),
)
def test_optimal_on_tied_integer_scores(b, seed, levels, method):
    scores = np.random.default_rng(seed).integers(0, levels, (b, b)).astype(np.float32)
    perm = assignment.solve(jnp.asarray(scores), method)
    assert total(scores, perm) == optimum(scores)


@pytest.mark.parametrize("method", ["auction", "hungarian"])
def test_solve_works_under_vmap_and_jit(method):
    scores = np.random.default_rng(0).normal(size=(4, 9, 9)).astype(np.float32)
    perms = jax.jit(jax.vmap(lambda s: assignment.solve(s, method)))(scores)
    for s, p in zip(scores, perms, strict=True):
        np.testing.assert_allclose(total(s, p), optimum(s), rtol=1e-6)


def test_auction_stopped_by_its_round_bound_still_returns_a_permutation():
    scores = np.random.default_rng(1).integers(0, 3, (64, 64)).astype(np.float32)
    result = auction(jnp.asarray(scores), max_rounds=5)
    assert not bool(result.converged) and int(result.rounds) <= 5
    total(scores, result.perm)  # Asserts it is a permutation.


def test_non_finite_scores():
    scores = np.ones((4, 4), np.float32)
    scores[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        assignment.solve(jnp.asarray(scores))
    result = jax.jit(auction)(jnp.asarray(scores))  # Under jit: flagged, identity.
    assert not bool(result.converged)
    np.testing.assert_array_equal(result.perm, np.arange(4))


def test_solve_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        assignment.solve(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="Unknown assignment method"):
        assignment.solve(jnp.zeros((3, 3)), "magic")


SHARD_MAP_SCRIPT = """
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import PartitionSpec as P
from scipy.optimize import linear_sum_assignment
from natjax.assignment import solve
mesh = jax.make_mesh((4,), ("data",))
scores = np.random.default_rng(0).normal(size=(4, 32, 32)).astype(np.float32)
sharded = jax.device_put(scores, jax.sharding.NamedSharding(mesh, P("data")))
per_device = jax.shard_map(lambda s: jax.vmap(solve)(s), mesh=mesh, in_specs=P("data"),
                           out_specs=P("data"))
perms = np.asarray(jax.jit(per_device)(sharded))
for s, p in zip(scores, perms):
    r, c = linear_sum_assignment(s, maximize=True)
    assert abs(s[np.arange(32), p].sum() - s[r, c].sum()) < 1e-4
print("ok", jax.device_count())
"""


def test_auction_inside_shard_map_on_four_devices():
    import os
    import subprocess
    import sys

    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    out = subprocess.run(
        [sys.executable, "-c", SHARD_MAP_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", "4"]

import functools
import os
import subprocess
import sys

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


def nat_like(b: int, sigma: float, seed: int) -> np.ndarray:
    """NAT's scores at initialisation: features `normalize(u + sigma g_i)` around one shared
    direction `u` against random unit targets, d = 128 (nearly tied rows)."""
    rng = np.random.default_rng(seed)
    features = unit(unit(rng.normal(size=(1, 128))) + sigma * rng.normal(size=(b, 128)))
    return features @ unit(rng.normal(size=(b, 128))).T


KERNELS = [("xla", 1), ("xla", 4), ("xla", 64), ("pallas", 4), ("pallas", 16)]


@pytest.mark.parametrize(("kernel", "bidders"), KERNELS)
@pytest.mark.parametrize("b", [17, 64])
def test_every_auction_kernel_reaches_the_optimum(kernel, bidders, b):
    """The CPU default (one bidder), the block kernel, the wide Jacobi kernel (bidders >= b)
    and the fused Pallas kernel (the GPU default, here in interpret mode), all on CPU, since CI
    has no accelerator."""
    solve = jax.jit(lambda s: auction(s, kernel=kernel, bidders=bidders))
    matrices = score_matrices(b, seed=b + bidders)
    matrices["nat_like"] = nat_like(b, 0.01, seed=b)
    for name, scores in matrices.items():
        scores = scores.astype(np.float32)
        result = solve(jnp.asarray(scores))
        assert bool(result.converged), name
        gap = optimum(scores) - total(scores, result.perm)
        assert -1e-9 <= gap <= auction_gap_bound(scores) + 1e-6 * abs(optimum(scores)), name


@pytest.mark.parametrize("warm_start", [0, 10])
def test_fused_kernel_is_the_block_kernel_in_one_launch(warm_start):
    """Same bidders, same starting prices: the same bids, so the same rounds and permutation."""
    b = 256
    for name, scores in {**score_matrices(b, seed=3), "nat": nat_like(b, 0.05, 3)}.items():
        scores = jnp.asarray(scores, jnp.float32)
        xla, fused = (
            jax.jit(lambda s, k=k: auction(s, kernel=k, bidders=16, warm_start=warm_start))(scores)
            for k in ("xla", "pallas")
        )
        assert int(fused.rounds) == int(xla.rounds), name
        np.testing.assert_array_equal(fused.perm, xla.perm, err_msg=name)


@pytest.mark.parametrize("kernel", ["xla", "pallas"])
def test_warm_start_saves_rounds_on_nat_scores(kernel):
    """Nearly parallel features make every row want the same columns: from zero prices a price
    war; from Sinkhorn's prices far fewer rounds. Both are exact."""
    scores = nat_like(256, 0.01, seed=0).astype(np.float32)
    rounds = {}
    for warm_start in (0, 10):
        result = jax.jit(lambda s, w=warm_start: auction(s, kernel=kernel, warm_start=w))(scores)
        assert total(scores, result.perm) >= optimum(scores) - auction_gap_bound(scores) - 1e-6
        rounds[warm_start] = int(result.rounds)
    assert rounds[10] * 4 < rounds[0], rounds


@pytest.mark.parametrize("bidders", [1, 16])
def test_several_rounds_per_loop_check_change_nothing(bidders):
    scores = jnp.asarray(nat_like(64, 0.05, seed=1), jnp.float32)
    one, eight = (
        jax.jit(lambda s, r=r: auction(s, kernel="xla", bidders=bidders, rounds_per_check=r))(
            scores
        )
        for r in (1, 8)
    )
    assert int(one.rounds) == int(eight.rounds)
    np.testing.assert_array_equal(one.perm, eight.perm)


def test_fused_kernel_lowers_to_triton_for_cuda():
    """Pallas lowers the kernel for an H100 (to a Triton custom call) on a machine without one:
    alone, vmapped (one program per problem), and inside shard_map with its varying-axes check
    on, over 4 devices, as `nat.scope=local` runs it."""
    from jax import export
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from natjax.assignment import fused

    solve = functools.partial(fused.fused_auction, scaling=8, max_rounds=100, interpret=False)
    checks = [export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    mesh = fused.hopper_mesh((4,), ("data",))
    per_device = jax.shard_map(jax.vmap(solve), mesh=mesh, in_specs=P("data"), out_specs=P("data"))
    split = NamedSharding(mesh, P("data"))
    cases = ((solve, (), None), (jax.vmap(solve), (3,), None), (per_device, (4,), split))
    for fn, lead, sharding in cases:
        shapes = [
            jax.ShapeDtypeStruct(lead + s, jnp.int32, sharding=sharding)
            for s in ((100, 100), (100,), ())
        ]
        with jax.sharding.use_abstract_mesh(mesh):
            exported = export.export(jax.jit(fn), platforms=["cuda"], disabled_checks=checks)
            module = exported(*shapes).mlir_module()
        assert "xla.gpu.triton" in module and 'name = "natjax_auction"' in module


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    levels=st.integers(1, 4),
    method=st.sampled_from(["auction", "auction_pallas", "hungarian"]),
)
def test_optimal_on_tied_integer_scores(b, seed, levels, method):
    scores = np.random.default_rng(seed).integers(0, levels, (b, b)).astype(np.float32)
    perm = assignment.solve(jnp.asarray(scores), method)
    assert total(scores, perm) == optimum(scores)


@pytest.mark.parametrize("method", ["auction", "auction_pallas", "hungarian"])
def test_solve_works_under_vmap_and_jit(method):
    scores = np.random.default_rng(0).normal(size=(4, 9, 9)).astype(np.float32)
    perms = jax.jit(jax.vmap(lambda s: assignment.solve(s, method)))(scores)
    for s, p in zip(scores, perms, strict=True):
        np.testing.assert_allclose(total(s, p), optimum(s), rtol=1e-6)


@pytest.mark.parametrize("kernel", ["xla", "pallas"])
def test_auction_stopped_by_its_round_bound_still_returns_a_permutation(kernel):
    scores = np.random.default_rng(1).integers(0, 3, (64, 64)).astype(np.float32)
    result = auction(jnp.asarray(scores), max_rounds=5, kernel=kernel)
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
for method in ("auction", "auction_pallas"):
    # Pallas' interpret mode (the fused kernel off GPUs) fails the varying-axes check (JAX 0.10);
    # on GPUs the kernel lowers under the check (test_fused_kernel_lowers_to_triton_for_cuda).
    per_device = jax.shard_map(lambda s: jax.vmap(lambda x: solve(x, method))(s), mesh=mesh,
                               in_specs=P("data"), out_specs=P("data"),
                               check_vma=method == "auction")
    perms = np.asarray(jax.jit(per_device)(sharded))
    for s, p in zip(scores, perms):
        r, c = linear_sum_assignment(s, maximize=True)
        assert abs(s[np.arange(32), p].sum() - s[r, c].sum()) < 1e-4
print("ok", jax.device_count())
"""


def run_on_devices(script: str, devices: int) -> list[str]:
    """The words `script` prints, run in a fresh process with `devices` simulated devices."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_auction_inside_shard_map_on_four_devices():
    assert run_on_devices(SHARD_MAP_SCRIPT, 4) == ["ok", "4"]


def test_on_gpus_a_kernel_that_does_not_compile_falls_back_with_a_warning(monkeypatch):
    """`default_kernel` picks the fused kernel on GPUs only where it compiles. Here the GPU
    is pretended: the Triton kernel cannot compile on a CPU, so one warning names the cause
    and the XLA kernels solve the problem, inside the caller's trace."""
    from natjax.assignment import fused

    auction_module = sys.modules["natjax.assignment.auction"]  # The package re-exports auction().

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    fused.compiles.cache_clear()
    scores = nat_like(32, 0.05, seed=2).astype(np.float32)
    with pytest.warns(UserWarning, match="XLA kernels solve the assignment instead"):
        perm = jax.jit(lambda s: assignment.solve(s, "auction"))(jnp.asarray(scores))
    assert total(scores, perm) >= optimum(scores) - auction_gap_bound(scores) - 1e-6
    assert auction_module.default_kernel(32) == "xla"  # Tried once per size.
    fused.compiles.cache_clear()

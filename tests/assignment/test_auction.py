"""The auction (`natjax.assignment.auction`): exact on integer scores, every kernel at its
guarantee, warm starts and loop checks that change only the rounds, and its fallbacks."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax import assignment
from natjax.assignment.auction import auction
from tests.assignment.problems import (
    auction_gap_bound,
    nat_like,
    optimum,
    score_matrices,
    total,
)


@pytest.mark.parametrize("b", [pytest.param(3, marks=pytest.mark.slow), 17, 256])
def test_auction_is_exact_on_integer_scores(b):
    scores = np.random.default_rng(b).integers(0, 100, (b, b)).astype(np.float32)
    result = jax.jit(auction)(jnp.asarray(scores))
    assert bool(result.converged) and int(result.rounds) > 0
    assert total(scores, result.perm) == optimum(scores)


KERNELS = [
    ("xla", 1),
    pytest.param("xla", 4, marks=pytest.mark.slow),  # The block kernel: test_triton's too.
    ("xla", 64),
    ("triton", 4),
    pytest.param("triton", 16, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("kernel", "bidders"), KERNELS)
@pytest.mark.parametrize("b", [17, pytest.param(64, marks=pytest.mark.slow)])
def test_every_auction_kernel_reaches_the_optimum(kernel, bidders, b):
    """The CPU default (one bidder), the block kernel, the wide Jacobi kernel (bidders >= b)
    and the Triton kernel (the GPU default, here in interpret mode), all on CPU, since CI
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


@pytest.mark.parametrize("kernel", ["xla", pytest.param("triton", marks=pytest.mark.slow)])
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


@pytest.mark.parametrize("bidders", [1, pytest.param(16, marks=pytest.mark.slow)])
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


@pytest.mark.parametrize("kernel", ["xla", "triton"])
def test_auction_stopped_by_its_round_bound_still_returns_a_permutation(kernel):
    scores = np.random.default_rng(1).integers(0, 3, (64, 64)).astype(np.float32)
    result = jax.jit(lambda s: auction(s, max_rounds=5, kernel=kernel))(jnp.asarray(scores))
    assert not bool(result.converged) and int(result.rounds) <= 5
    total(scores, result.perm)  # Asserts it is a permutation.


def test_on_gpus_a_kernel_that_does_not_compile_falls_back_with_a_warning(monkeypatch):
    """`default_kernel` picks the Triton kernel on GPUs only where it compiles. Here the GPU
    is pretended: the Triton kernel cannot compile on a CPU, so one warning names the cause
    and the XLA kernels solve the problem, inside the caller's trace."""
    from natjax.assignment import kernels

    auction_module = sys.modules["natjax.assignment.auction"]  # The package re-exports auction().

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    kernels.compiles.cache_clear()
    scores = nat_like(32, 0.05, seed=2).astype(np.float32)
    with pytest.warns(UserWarning, match="XLA kernels solve the assignment instead"):
        perm = jax.jit(lambda s: assignment.solve(s, "auction"))(jnp.asarray(scores))
    assert total(scores, perm) >= optimum(scores) - auction_gap_bound(scores) - 1e-6
    assert auction_module.default_kernel(32) == "xla"  # Tried once per size.
    kernels.compiles.cache_clear()


@pytest.mark.parametrize(
    "method, backend", [("auction_mosaic_gpu", "gpu"), ("auction_pallas_tpu", "tpu")]
)
def test_a_named_kernel_that_does_not_compile_falls_back_with_a_warning(
    monkeypatch, method, backend
):
    """A kernel named by `nat.solver` that does not compile on its accelerator (as Mosaic GPU
    before Hopper would not; here the accelerator is pretended, really a CPU, for which
    neither Mosaic kernel lowers) is one warning naming it, and the XLA kernels solve the
    problem. (Off its own hardware each kernel runs interpreted.)"""
    from natjax.assignment import kernels

    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    kernels.compiles.cache_clear()
    scores = nat_like(32, 0.05, seed=2).astype(np.float32)
    kernel = method.removeprefix("auction_")
    with pytest.warns(UserWarning, match=f"^The {kernel} auction kernel does not compile"):
        perm = jax.jit(lambda s: assignment.solve(s, method))(jnp.asarray(scores))
    assert total(scores, perm) >= optimum(scores) - auction_gap_bound(scores) - 1e-6
    kernels.compiles.cache_clear()


def test_a_kernel_chosen_beyond_its_size_is_refused_in_one_sentence():
    scores = jnp.zeros((2049, 2049), jnp.float32)
    message = "The pallas_tpu auction kernel takes b up to 2048, not 2049: use the default"
    with pytest.raises(ValueError, match="^" + message):
        jax.eval_shape(lambda s: auction(s, kernel="pallas_tpu"), scores)

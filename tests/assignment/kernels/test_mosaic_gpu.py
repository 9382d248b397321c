"""The Mosaic GPU auction kernel (`natjax.assignment.kernels.mosaic_gpu`): the block kernel's bids
in one launch (checked in Mosaic GPU's interpret mode), and its lowering for Hopper GPUs on a
machine without one."""

import functools
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax.assignment.kernels import lowering, mosaic_gpu
from tests.assignment.problems import nat_like, score_matrices

auction = importlib.import_module("natjax.assignment.auction")  # The module, not the function.


def _inputs(scores: np.ndarray):
    return auction.starting_point(jnp.asarray(scores, jnp.float32))


def _assert_same_as_block_kernel(scores: np.ndarray, name: str) -> None:
    """Same bidders, same starting prices: the same rounds and the same assignment."""
    b = len(scores)
    solve = functools.partial(
        auction._xla_auction, scaling=auction.SCALING, max_rounds=1024 * b + 10000
    )
    inputs = _inputs(scores)
    xla = jax.jit(functools.partial(solve, bidders=mosaic_gpu.BIDDERS, rounds_per_check=1))
    want = xla(*inputs)
    got = mosaic_gpu.mosaic_auction(
        *inputs,
        scaling=solve.keywords["scaling"],
        max_rounds=solve.keywords["max_rounds"],
        interpret=True,
    )
    assert int(got[1]) == int(want[1]), name
    np.testing.assert_array_equal(got[0], want[0], err_msg=name)
    assert bool(got[2]) and bool(want[2]), name


def test_mosaic_kernel_is_the_block_kernel_on_nat_scores():
    """NAT's nearly tied scores at b = 60 (padded to 64: padding rows and columns included)."""
    _assert_same_as_block_kernel(nat_like(60, 0.05, 0), "nat")


@pytest.mark.slow
def test_mosaic_kernel_is_the_block_kernel():
    """Every problem of `problems.py`, and NAT's scores, at b = 64 (every free row bids; the
    interpreter takes about 3 minutes for these nine)."""
    problems = {**score_matrices(64, seed=3), "nat": nat_like(64, 0.05, 3)}
    for name, scores in problems.items():
        _assert_same_as_block_kernel(scores, name)


def _export_for_hopper(b: int, batch: str = "none") -> str:
    """The kernel for `b`, exported for H100s (`cuda`) on this machine, alone, vmapped or
    vmapped inside shard_map over 4 devices (`batch`): its MLIR module."""
    from jax import export
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    solve = functools.partial(mosaic_gpu.mosaic_auction, scaling=8, max_rounds=100, interpret=False)
    mesh = lowering.hopper_mesh((4,), ("data",))
    fn, lead, sharding = {
        "none": (solve, (), None),
        "vmap": (jax.vmap(solve), (3,), None),
        "shard_map": (
            jax.shard_map(jax.vmap(solve), mesh=mesh, in_specs=P("data"), out_specs=P("data")),
            (4,),
            NamedSharding(mesh, P("data")),
        ),
    }[batch]
    checks = [export.DisabledSafetyCheck.custom_call("mosaic_gpu_v2")]
    shapes = [
        jax.ShapeDtypeStruct(lead + s, jnp.int32, sharding=sharding) for s in ((b, b), (b,), ())
    ]
    with jax.sharding.use_abstract_mesh(mesh):
        exported = export.export(jax.jit(fn), platforms=["cuda"], disabled_checks=checks)
        return exported(*shapes).mlir_module()


@pytest.mark.parametrize(
    "b, batch", [(8, "none"), (mosaic_gpu.MAX_SIZE, "none"), (100, "vmap"), (100, "shard_map")]
)
def test_mosaic_kernel_lowers_for_hopper(b, batch):
    """Pallas lowers the kernel to a Mosaic GPU custom call for H100s on a machine without
    one: at the smallest and the largest padded size, vmapped (one program per problem), and
    inside shard_map with its varying-axes check on, as `nat.scope=local` runs it."""
    assert "mosaic_gpu_v2" in _export_for_hopper(b, batch)


def test_mosaic_kernel_orders_int32_as_signed(monkeypatch):
    """No comparison, minimum or maximum of the lowered kernel treats int32 as unsigned (Mosaic
    GPU can give a select an unsigned result, `mosaic_gpu._put`); the interpreter, which
    checks the bids, would not notice."""
    from jax.experimental.mosaic.gpu import fragmented_array

    array = fragmented_array.FragmentedArray
    unsigned = []

    def watch(method, is_ordering):
        def watched(self, *args, **kwargs):
            width = getattr(self.mlir_dtype, "width", 0)
            if width == 32 and self.is_signed is False and is_ordering(*args, **kwargs):
                unsigned.append(method)
            return getattr(array, f"_unwatched_{method}")(self, *args, **kwargs)

        monkeypatch.setattr(array, f"_unwatched_{method}", getattr(array, method), raising=False)
        monkeypatch.setattr(array, method, watched)

    watch("reduce", lambda op, *_, **__: op in ("max", "min"))
    watch("max", lambda *_: True)
    watch("min", lambda *_: True)
    watch("_compare", lambda *_, si_pred, **__: str(si_pred) not in ("eq", "ne"))
    _export_for_hopper(100)
    assert not unsigned


@pytest.mark.slow
def test_mosaic_kernel_vmapped_solves_each_problem():
    """Two problems in one vmapped call: each gets the block kernel's rounds and assignment."""
    inputs = [_inputs(nat_like(60, 0.05, seed)) for seed in (0, 1)]
    solve = functools.partial(
        mosaic_gpu.mosaic_auction, scaling=auction.SCALING, max_rounds=100000, interpret=True
    )
    row_col, rounds, _ = jax.vmap(solve)(*(jnp.stack(x) for x in zip(*inputs, strict=True)))
    for i, problem in enumerate(inputs):
        want = auction._xla_auction(
            *problem, scaling=auction.SCALING, max_rounds=100000, bidders=64, rounds_per_check=1
        )
        assert int(rounds[i]) == int(want[1])
        np.testing.assert_array_equal(row_col[i], want[0])


def test_mosaic_kernel_rejects_sizes_it_cannot_hold():
    shapes = [jax.ShapeDtypeStruct(s, jnp.int32) for s in ((513, 513), (513,), ())]
    solve = functools.partial(mosaic_gpu.mosaic_auction, scaling=8, max_rounds=1)
    with pytest.raises(ValueError, match="b <= 512"):
        jax.eval_shape(solve, *shapes)

"""The Mosaic TPU kernel (`natjax.assignment.pallas_tpu`): the block kernel's bids in one launch,
run in Pallas' TPU interpret mode on CPU, and its lowering for TPUs on a machine without one."""

import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental.pallas import tpu as pltpu

from natjax.assignment.auction import SCALING, _xla_auction, starting_point
from natjax.assignment.kernels import pallas_tpu
from tests.assignment.problems import nat_like, score_matrices


def _tpu_interpret():
    """Pallas' TPU interpret mode (it simulates TPU memory spaces), where this JAX has it."""
    if not hasattr(pltpu, "InterpretParams"):
        pytest.skip("This JAX's Pallas has no TPU interpret mode (pltpu.InterpretParams).")
    return pltpu.InterpretParams()


def _inputs(scores):
    return starting_point(jnp.asarray(scores, jnp.float32))


def _assert_same_bids(problems, k, interpret, max_rounds=None):
    """The kernel and the XLA block kernel with the same `k` bidders: same rounds, same
    permutation, same completeness. Returns the kernel's completeness on the last problem."""
    b = len(next(iter(problems.values())))
    common = {"scaling": SCALING, "max_rounds": max_rounds or 1024 * b + 10000, "bidders": k}
    solvers = (
        jax.jit(lambda s: _xla_auction(*_inputs(s), rounds_per_check=1, **common)),
        jax.jit(lambda s: pallas_tpu.tpu_auction(*_inputs(s), interpret=interpret, **common)),
    )
    for name, scores in problems.items():
        (xla_rows, xla_rounds, xla_done), (rows, rounds, done) = (f(scores) for f in solvers)
        assert int(rounds) == int(xla_rounds), name
        np.testing.assert_array_equal(rows, xla_rows, err_msg=name)
        assert bool(done) == bool(xla_done), name
    return bool(done)


def test_tpu_kernel_is_the_block_kernel_in_one_launch():
    """Same bidders, same starting prices: the same bids, so the same rounds and permutation
    (b = 256 is two lane tiles; 16 bidders, two sublane tiles)."""
    b = 256
    _assert_same_bids(
        {**score_matrices(b, seed=3), "nat": nat_like(b, 0.05, 3)}, 16, _tpu_interpret()
    )


def test_tpu_kernel_pads_odd_sizes_and_bidders():
    """b = 200 pads to 256 columns and 12 bidders to a 16-row tile; the slots beyond 12 and the
    padding rows never bid. A bound on the rounds leaves the same rows unassigned."""
    b = 200
    problems = {"nat": nat_like(b, 0.05, 1), "integer": score_matrices(b, seed=1)["integer"]}
    _assert_same_bids(problems, 12, _tpu_interpret())
    assert not _assert_same_bids({"nat": problems["nat"]}, 12, _tpu_interpret(), max_rounds=40)


def test_byte_planes_hold_any_int32_exactly_in_bf16():
    """The gather's byte planes recombine to the benefits, negative and extreme ones too."""
    rng = np.random.default_rng(0)
    info = np.iinfo(np.int32)
    benefits = rng.integers(info.min, info.max, (100, 100), dtype=np.int32, endpoint=True)
    benefits[0, :4] = [info.min, info.max, -1, 0]
    planes = pallas_tpu._split(jnp.asarray(benefits), 128)
    assert planes.dtype == jnp.bfloat16 and planes.shape == (4, 128, 128)
    np.testing.assert_array_equal(pallas_tpu._combine(list(planes))[:100, :100], benefits)


def test_tpu_kernel_in_generic_interpret_mode():
    """The generic interpret mode (`interpret=True`) runs the same kernel to the same bids."""
    _assert_same_bids({"nat": nat_like(64, 0.05, 0)}, 8, True)


@pytest.mark.slow
def test_tpu_kernel_at_a_large_size():
    """At b = 1024 (the largest size that also fits v4 and vmap), with the default bidders
    (b / 16), on NAT's scores."""
    b = 1024
    _assert_same_bids(
        {"nat": nat_like(b, 0.05, 0)}, pallas_tpu.default_bidders(b), _tpu_interpret()
    )


def test_tpu_kernel_lowers_to_mosaic():
    """Pallas lowers the kernel for TPUs (to a Mosaic custom call) on a machine without one:
    alone, vmapped (one grid step per problem), and inside shard_map over 4 abstract TPUs with
    its varying-axes check on, as `nat.scope=local` runs it."""
    from jax import export
    from jax.sharding import AbstractDevice, AbstractMesh, AxisType, NamedSharding
    from jax.sharding import PartitionSpec as P

    solve = functools.partial(pallas_tpu.tpu_auction, scaling=8, max_rounds=100, interpret=False)
    tpu = AbstractDevice(device_kind="TPU v5 lite", num_cores=None, platform="tpu")
    mesh = AbstractMesh((4,), ("data",), axis_types=(AxisType.Explicit,), abstract_device=tpu)
    per_device = jax.shard_map(jax.vmap(solve), mesh=mesh, in_specs=P("data"), out_specs=P("data"))
    split = NamedSharding(mesh, P("data"))
    cases = ((solve, (), None), (jax.vmap(solve), (3,), None), (per_device, (4,), split))
    for fn, lead, sharding in cases:
        shapes = [
            jax.ShapeDtypeStruct(lead + s, jnp.int32, sharding=sharding)
            for s in ((1000, 1000), (1000,), ())
        ]
        # Outside shard_map, a mesh of explicit axes would ask XLA to partition the kernel.
        with jax.sharding.use_abstract_mesh(mesh) if sharding else contextlib.nullcontext():
            module = export.export(jax.jit(fn), platforms=["tpu"])(*shapes).mlir_module()
        assert "tpu_custom_call" in module and "natjax_auction_tpu" in module


_COMPILE = """
import functools, sys
import jax, jax.numpy as jnp
from jax.experimental import topologies
from jax.sharding import SingleDeviceSharding
from natjax.assignment.kernels import pallas_tpu

device = topologies.get_topology_desc(topology_name=sys.argv[1], platform="tpu").devices[0]
solve = functools.partial(pallas_tpu.tpu_auction, scaling=8, max_rounds=100, interpret=False)
for fn, lead in ((solve, ()), (jax.vmap(solve), (3,))):
    shapes = [
        jax.ShapeDtypeStruct(lead + s, jnp.int32, sharding=SingleDeviceSharding(device))
        for s in ((1000, 1000), (1000,), ())
    ]
    jax.jit(fn).trace(*shapes).lower(lowering_platforms=("tpu",)).compile()
print("compiled for", device.device_kind)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "accelerator, topology", [("v5litepod-4", "v5e:2x2"), ("tpu7x-8", "tpu7x:2x2x1")]
)
def test_tpu_kernel_compiles_for_tpus_without_one(accelerator, topology):
    """Where libtpu is installed, Mosaic compiles the kernel (alone and vmapped, b = 1000) for a
    TPU topology without the chips. A subprocess: libtpu reads its settings at start."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("libtpu") is None:
        pytest.skip("libtpu is not installed, so nothing here can compile for TPUs.")
    env = {
        **os.environ,
        "TPU_ACCELERATOR_TYPE": accelerator,
        "TPU_SKIP_MDS_QUERY": "1",
        "TPU_WORKER_HOSTNAMES": "localhost",
        "TPU_WORKER_ID": "0",
        "ALLOW_MULTIPLE_LIBTPU_LOAD": "1",  # This process may hold libtpu's lock file.
    }
    done = subprocess.run(
        [sys.executable, "-c", _COMPILE, topology], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and "compiled for" in done.stdout, done.stderr[-3000:]

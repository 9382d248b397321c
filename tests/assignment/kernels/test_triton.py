"""The Triton kernel (`natjax.assignment.kernels.triton`): the block kernel's bids in one
launch, and its lowering for Hopper GPUs on a machine without one."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax.assignment.auction import auction
from tests.assignment.problems import nat_like, score_matrices


@pytest.mark.parametrize("warm_start", [pytest.param(0, marks=pytest.mark.slow), 10])
def test_the_kernel_is_the_block_kernel_in_one_launch(warm_start):
    """Same bidders, same starting prices: the same bids, so the same rounds and permutation."""
    b = 256
    solvers = {
        k: jax.jit(lambda s, k=k: auction(s, kernel=k, bidders=16, warm_start=warm_start))
        for k in ("xla", "triton")
    }
    for name, scores in {**score_matrices(b, seed=3), "nat": nat_like(b, 0.05, 3)}.items():
        scores = jnp.asarray(scores, jnp.float32)
        xla, fused = (solvers[k](scores) for k in ("xla", "triton"))
        assert int(fused.rounds) == int(xla.rounds), name
        np.testing.assert_array_equal(fused.perm, xla.perm, err_msg=name)


def test_the_kernel_lowers_to_triton_for_cuda():
    """Pallas lowers the kernel for an H100 (to a Triton custom call) on a machine without one:
    alone, vmapped (one program per problem), and inside shard_map with its varying-axes check
    on, over 4 devices, as `nat.scope=local` runs it."""
    from jax import export
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from natjax.assignment.kernels import lowering, triton

    solve = functools.partial(triton.triton_auction, scaling=8, max_rounds=100, interpret=False)
    checks = [export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    mesh = lowering.hopper_mesh((4,), ("data",))
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

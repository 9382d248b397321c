"""The auction in one kernel launch: every epsilon phase and every round in one Pallas
program, one module per Pallas backend. Each makes exactly the bids of the XLA block kernel of
`auction.py` with the same bidders (its test compares them round for round), and has the same
interface: `(benefits, prices, eps, *, scaling, max_rounds, bidders) -> (row_col, rounds,
complete)`.

- `triton`: Pallas' Triton backend (NVIDIA and AMD GPUs). The default on GPUs: it is the one
  kernel a GPU has timed. Triton is deprecated in Pallas since JAX 0.11.
- `mosaic_gpu`: Pallas' Mosaic GPU backend, Triton's successor on NVIDIA GPUs: 64 bidders
  (one warpgroup's tile), b <= 512. Chosen with `nat.solver=auction_mosaic_gpu`; it becomes
  the default on NVIDIA GPUs only once a GPU has timed it against `triton`.
- `pallas_tpu`: Pallas' Mosaic TPU backend, the prefix sum and the row gather as matmuls.
  Chosen with `nat.solver=auction_pallas_tpu`; TPUs keep the XLA kernels by default until a
  TPU has timed both.

Off its hardware each kernel runs in an interpret mode, which is how the tests check it on CPU.
"""

import functools
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp

from natjax.assignment.kernels import mosaic_gpu, pallas_tpu, triton

KERNELS: dict[str, Callable] = {
    "triton": triton.triton_auction,
    "mosaic_gpu": mosaic_gpu.mosaic_auction,
    "pallas_tpu": pallas_tpu.tpu_auction,
}
# The largest padded size each kernel takes: registers (Triton), shared memory (Mosaic GPU),
# VMEM (TPU).
MAX_SIZES = {
    "triton": triton.MAX_SIZE,
    "mosaic_gpu": mosaic_gpu.MAX_SIZE,
    "pallas_tpu": pallas_tpu.MAX_SIZE,
}
PADDED_SIZES = {
    "triton": triton.padded_size,
    "mosaic_gpu": mosaic_gpu.padded_size,
    "pallas_tpu": pallas_tpu.padded_size,
}


def fits(name: str, b: int) -> bool:
    """Whether kernel `name` takes a `[b, b]` problem (its padded size is within its limit)."""
    return PADDED_SIZES[name](b) <= MAX_SIZES[name]


@functools.cache
def compiles(name: str, b: int) -> bool:
    """Whether kernel `name` compiles for `b` on the default backend (tried once per size); if
    not, one warning says why and the caller falls back to the XLA kernels."""
    shapes = [jax.ShapeDtypeStruct(s, jnp.int32) for s in ((b, b), (b,), ())]
    solve = functools.partial(KERNELS[name], scaling=8, max_rounds=1)
    try:
        jax.jit(solve).lower(*shapes).compile()
    except Exception as error:  # Any lowering or compiler failure: fall back, say why.
        warnings.warn(
            f"The {name} auction kernel does not compile for b = {b} here, so the XLA "
            f"kernels solve the assignment instead: {error}",
            stacklevel=2,
        )
        return False
    return True

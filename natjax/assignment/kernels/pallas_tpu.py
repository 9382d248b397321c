"""The whole auction in one Pallas kernel for TPUs (Mosaic TPU): every phase and round in one
launch, the same bids as the block kernel of `auction.py` and as `triton.py` on GPUs.

`triton.py`'s kernel does not lower for TPUs: Mosaic TPU has no prefix sum (`cumsum`) to pick
the bidders and no gather by a vector of row indices. Here both are matmuls, which the TPU's
matrix unit does well, on bf16 operands that hold small integers, accumulated in f32: exact
whatever precision the matrix unit runs at (every product is exact, every sum < 2^24).

- Bidders: the first `k` unassigned rows in index order. Their ranks are a prefix sum, done as
  `free [1, n] @ T [n, n]` with `T` the upper-triangular ones; slot `s` of the `[k, n]` tile
  takes the free row of rank `s`. (`k` successive min-reductions would pick the same rows, but
  cost `k` dependent cross-lane reductions a round instead of one matmul.) `T` is built from
  two iotas once, at kernel start, in a VMEM scratch.
- Benefit rows: `onehot [k, n] @ P [n, n]` for each byte plane `P` of the int32 benefits
  (split once, in the wrapper: 3 unsigned bytes and a signed top byte, exact in bf16), and
  the 4 results recombined in int32. Each output is one product by 1.0 plus zeros.
- Bids: as in `triton.py`, every index-dependent update is a one-hot select and a reduction
  over a `[k, n]` tile (no scalar indexing of vectors). Among equally good columns row `i`
  takes the first at or after column `i` cyclically; each column goes to its highest bid, the
  lowest row among equal bids.

Everything is 2-D, as Mosaic TPU tiles arrays (8 sublanes x 128 lanes): the state vectors are
`[1, n]` with `n` = b rounded up to a multiple of 128, and the tiles `[k8, n]` with `k8` = k
rounded up to a multiple of 8 (slots beyond `k` never bid). Padding rows hold padding columns
from the start and never bid; padding columns are worth nothing to a real row.

Size limit: the byte planes and `T` stay in VMEM for the whole solve, `10 n^2` bytes (10 MiB
at n = 1024, 40 MiB at n = 2048, 160 MiB at 4096), and the kernel asks for that plus 16 MiB
(`vmem_limit_bytes`; the default scoped limit is 16 or 32 MiB). `MAX_SIZE = 2048`: compiled
ahead of time (libtpu 0.0.42 with JAX 0.10.2, 0.0.52 with JAX 0.12.1) it fits v5e, v5p, v6e
and v7x (64 MiB of VMEM a core); 4096 does not fit v5e or v7x; v4 (16 MiB) takes n <= 1024.
Under `vmap` Pallas pipelines the problems and double-buffers the planes, `18 n^2` bytes:
n <= 1024 (512 on v4). Streaming benefit rows from HBM would lift the limit: not done.

Checked without a TPU: the bids against the block kernel in Pallas' TPU interpret mode on CPU,
the lowering to Mosaic with `jax.export(..., platforms=["tpu"])`, and (where libtpu is
installed) the compilation for TPU chips from a deviceless topology. Not yet timed on a TPU.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import tpu as pltpu

from natjax.assignment.kernels.lowering import varying_output
from natjax.assignment.kernels.phases import epsilon_phases

_NEG = jnp.iinfo(jnp.int32).min
_BIG = jnp.iinfo(jnp.int32).max
_BYTE = 8  # Benefits are gathered as 4 byte planes, exact in bf16.
_RELEASE_ROWS = 32  # Rows per step of the release loop (a multiple of bf16's 16-row tile).
# Largest padded size offered: the byte planes and the triangle take 10 * n^2 bytes of VMEM.
MAX_SIZE = 2048
_VMEM_SLACK = 16 << 20  # Scoped VMEM for the [k, n] tiles and Mosaic's own scratch.


class _Carry(NamedTuple):
    prices: jax.Array  # int32 [1, n]
    row_col: jax.Array  # int32 [1, n]: column held by each row, -1 if none.
    col_row: jax.Array  # int32 [1, n]: row holding each column, -1 if none.
    eps: jax.Array  # int32 []
    rounds: jax.Array  # int32 []


def _gather(onehot: jax.Array, values: jax.Array) -> jax.Array:
    """Per row of `onehot` `[k, n]` (at most one True per row), the selected entry of `values`
    (`[1, n]` or `[k, n]`), 0 where none: `[k, 1]`."""
    return jnp.sum(jnp.where(onehot, values, 0), axis=1, keepdims=True)


def _scatter_mask(onehot: jax.Array) -> jax.Array:
    """Columns of `onehot` `[k, n]` that any row selects: bool `[1, n]`."""
    return jnp.max(jnp.where(onehot, 1, 0), axis=0, keepdims=True) > 0


def _matmul(x: jax.Array, y: jax.Array) -> jax.Array:
    """`x @ y` of bf16 matrices, accumulated in f32: exact when the entries are integers of at
    most 8 bits and the sums stay below 2^24, whatever the matrix unit's precision."""
    return jax.lax.dot(x, y, preferred_element_type=jnp.float32)


def _combine(planes) -> jax.Array:
    """The int32 benefits from their byte planes (integer-valued f32 or bf16 arrays, lowest
    byte first, the highest one signed)."""
    total = planes[0].astype(jnp.float32).astype(jnp.int32)
    for p in range(1, len(planes)):
        total += planes[p].astype(jnp.float32).astype(jnp.int32) * (1 << (_BYTE * p))
    return total


def _benefit_rows(onehot: jax.Array, planes_ref) -> jax.Array:
    """The int32 benefit rows that `onehot` `[k, n]` (bf16) selects (zeros where none)."""
    return _combine([_matmul(onehot, planes_ref[p]) for p in range(planes_ref.shape[0])])


def _values(rows_tile: jax.Array, prices: jax.Array, b: int) -> jax.Array:
    """Benefit minus price `[k, n]`; padding columns are worth `_NEG` to every row."""
    cols = jax.lax.broadcasted_iota(jnp.int32, rows_tile.shape, 1)
    return jnp.where(cols < b, rows_tile - prices, _NEG)


def _bidders(row_col: jax.Array, triangle_ref, k: int, k8: int) -> tuple[jax.Array, jax.Array]:
    """The first `k` free rows: one-hot `[k8, n]` (slot s holds the free row of rank s) and
    their indices `[k8, 1]`, -1 for an empty slot."""
    n = row_col.shape[1]
    free = row_col < 0  # [1, n]; padding rows are never free.
    # Inclusive prefix count as a matmul, on 8 copies of the row (an operand of whole rows of
    # sublanes).
    free_rows = jnp.broadcast_to(jnp.where(free, 1.0, 0.0).astype(jnp.bfloat16), (8, n))
    counts = _matmul(free_rows, triangle_ref[...])
    rank = counts[0:1, :].astype(jnp.int32) - 1  # [1, n]
    cols = jax.lax.broadcasted_iota(jnp.int32, (k8, n), 1)
    slots = jax.lax.broadcasted_iota(jnp.int32, (k8, n), 0)
    pick = free & (rank == slots) & (slots < k)
    return pick, jnp.max(jnp.where(pick, cols, -1), axis=1, keepdims=True)


def _bid(planes_ref, triangle_ref, s: _Carry, b: int, k: int, k8: int) -> _Carry:
    """One round: the first `k` free rows bid for their best column."""
    n = s.prices.shape[1]
    cols = jax.lax.broadcasted_iota(jnp.int32, (k8, n), 1)
    pick, rows = _bidders(s.row_col, triangle_ref, k, k8)
    active = rows >= 0  # [k8, 1]
    onehot = jnp.where(pick, 1.0, 0.0).astype(jnp.bfloat16)
    values = _values(_benefit_rows(onehot, planes_ref), s.prices, b)
    w1 = jnp.max(values, axis=1, keepdims=True)
    distance = cols - rows  # Ties: the first best column at or after column i, cyclically.
    distance = jnp.where(distance < 0, distance + n, distance)
    j1 = jnp.min(jnp.where(values == w1, distance, n), axis=1, keepdims=True) + rows
    j1 = jnp.where(j1 >= n, j1 - n, j1)
    hit = (cols == j1) & active  # [k8, n]: the column each bidder bids for.
    w2 = jnp.max(jnp.where(cols == j1, _NEG, values), axis=1, keepdims=True)
    bid = jnp.where(active, _gather(hit, s.prices) + (w1 - w2) + s.eps, _NEG)
    best = jnp.max(jnp.where(hit, bid, _NEG), axis=0, keepdims=True)  # [1, n]
    top = active & (bid == _gather(hit, best))
    winner = jnp.min(jnp.where(hit & top, rows, n), axis=0, keepdims=True)  # Lowest row wins.
    got = winner < n
    won = top & (_gather(hit, winner) == rows)
    owner = _gather(hit, s.col_row)  # Each bid column's previous row, -1 if it was free.
    takes = (cols == rows) & won
    row_col = jnp.where(
        _scatter_mask(takes), jnp.sum(jnp.where(takes, j1, 0), axis=0, keepdims=True), s.row_col
    )
    evicted = (cols == owner) & (won & (owner >= 0))
    return s._replace(
        prices=jnp.where(got, best, s.prices),
        row_col=jnp.where(_scatter_mask(evicted), -1, row_col),
        col_row=jnp.where(got, winner, s.col_row),
        rounds=s.rounds + 1,
    )


def _release(planes_ref, s: _Carry, b: int) -> _Carry:
    """Phase start: prices renormalised; the pairs that violate epsilon-complementary slackness
    (`value < best value - eps`) are released, `_RELEASE_ROWS` rows at a time."""
    n = s.prices.shape[1]
    real = jax.lax.broadcasted_iota(jnp.int32, (1, n), 1) < b
    prices = jnp.where(real, s.prices - jnp.min(jnp.where(real, s.prices, _BIG)), 0)
    r = min(n, _RELEASE_ROWS)
    cols = jax.lax.broadcasted_iota(jnp.int32, (r, n), 1)

    def chunk(c, released):
        release_rows, release_cols = released  # int32 [1, n], 1 where released.
        first = pl.multiple_of(c * r, r)
        rows = first + jax.lax.broadcasted_iota(jnp.int32, (r, 1), 0)
        planes = [planes_ref[p, pl.ds(first, r), :] for p in range(planes_ref.shape[0])]
        values = _values(_combine(planes), prices, b)  # [r, n]
        mine = cols == rows
        held_col = _gather(mine, s.row_col)  # [r, 1]
        held = cols == held_col
        slack = _gather(held, values) >= jnp.max(values, axis=1, keepdims=True) - s.eps
        drop = (held_col >= 0) & ~slack & (rows < b)
        release_rows = jnp.where(_scatter_mask(mine & drop), 1, release_rows)
        release_cols = jnp.where(_scatter_mask(held & drop), 1, release_cols)
        return release_rows, release_cols

    none = jnp.zeros((1, n), jnp.int32)
    release_rows, release_cols = jax.lax.fori_loop(0, n // r, chunk, (none, none))
    return s._replace(
        prices=prices,
        row_col=jnp.where(release_rows > 0, -1, s.row_col),
        col_row=jnp.where(release_cols > 0, -1, s.col_row),
    )


def _kernel(
    planes_ref,
    prices_ref,
    eps_ref,
    row_col_ref,
    stats_ref,
    triangle_ref,
    *,
    b,
    k,
    scaling,
    max_rounds,
):
    n = planes_ref.shape[1]
    k8 = -(-k // 8) * 8
    above = jax.lax.broadcasted_iota(jnp.int32, (n, n), 0)
    triangle = jnp.where(above <= jax.lax.broadcasted_iota(jnp.int32, (n, n), 1), 1.0, 0.0)
    triangle_ref[...] = triangle.astype(jnp.bfloat16)
    index = jax.lax.broadcasted_iota(jnp.int32, (1, n), 1)
    unassigned = jnp.where(index < b, -1, index)  # Padding rows hold padding columns.
    eps = jnp.max(eps_ref[...])  # [1, 128] copies: a vector input batches under vmap.
    start = _Carry(prices_ref[...], unassigned, unassigned, eps, jnp.int32(0))

    s = epsilon_phases(
        start,
        lambda s: _release(planes_ref, s, b),
        lambda s: _bid(planes_ref, triangle_ref, s, b, k, k8),
        scaling=scaling,
        max_rounds=max_rounds,
    )
    row_col_ref[...] = s.row_col
    complete = jnp.where(jnp.min(s.row_col) >= 0, 1, 0)
    stats_ref[...] = jnp.where(
        jax.lax.broadcasted_iota(jnp.int32, stats_ref.shape, 1) == 0, s.rounds, complete
    )


def padded_size(b: int) -> int:
    """The kernel's problem size: `b` rounded up to a multiple of 128 (the TPU's lanes)."""
    return -(-b // 128) * 128


def default_bidders(b: int) -> int:
    """Rows that bid per round: as the XLA block kernel on accelerators (`auction.py`), up to
    b/16, at least 8 (one sublane tile). Untimed on a TPU."""
    return min(b, max(8, b // 16))


def vmem_bytes(n: int) -> int:
    """The scoped VMEM the kernel asks for at padded size `n`: the byte planes and the
    triangle (bf16, `10 n^2` bytes) plus slack."""
    return 10 * n * n + _VMEM_SLACK


def _split(benefits: jax.Array, n: int) -> jax.Array:
    """`benefits` padded to `[n, n]` as 4 byte planes `[4, n, n]` (bf16 integers in [0, 255],
    the highest byte signed, in [-128, 127]), exact for the matmul gather."""
    pad = n - benefits.shape[0]
    padded = jnp.pad(benefits, ((0, pad), (0, pad)))
    planes = [jnp.bitwise_and(jnp.right_shift(padded, _BYTE * p), 255) for p in range(3)]
    planes.append(jnp.right_shift(padded, 3 * _BYTE))  # Arithmetic shift: keeps the sign.
    return jnp.stack(planes).astype(jnp.bfloat16)


def tpu_auction(
    benefits: jax.Array,
    prices: jax.Array,
    eps: jax.Array,
    *,
    scaling: int,
    max_rounds: int,
    bidders: int | None = None,
    interpret=None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Every phase of the auction on integer `benefits` `[b, b]` from `prices` `[b]` and the
    first phase's `eps` `[]`, in one Mosaic TPU kernel. Returns (row_col `[b]`, -1 where a row
    was left unassigned by `max_rounds`; rounds `[]`; complete `[]` bool), as
    `triton.triton_auction`.

    `interpret` is passed to `pallas_call` (default: off on TPUs, else
    `pltpu.InterpretParams()`, the TPU interpret mode); `True` is the generic interpret mode.
    """
    b = benefits.shape[0]
    n = padded_size(b)
    k = min(b, bidders or default_bidders(b))
    if interpret is None:
        interpret = False if jax.default_backend() == "tpu" else pltpu.InterpretParams()
    vmem = pl.BlockSpec(memory_space=pltpu.VMEM)
    kernel = functools.partial(_kernel, b=b, k=k, scaling=scaling, max_rounds=max_rounds)
    call = pl.pallas_call(
        kernel,
        out_shape=(varying_output((1, n), benefits), varying_output((1, 128), benefits)),
        in_specs=[vmem] * 3,
        out_specs=(vmem, vmem),
        scratch_shapes=[pltpu.VMEM((n, n), jnp.bfloat16)],
        compiler_params=pltpu.CompilerParams(vmem_limit_bytes=vmem_bytes(n)),
        interpret=interpret,
        name="natjax_auction_tpu",
    )
    row_col, stats = call(
        _split(benefits, n),
        jnp.pad(prices, (0, n - b))[None, :],
        jnp.full((1, 128), eps, jnp.int32),
    )
    return row_col[0, :b], stats[0, 0], stats[0, 1] > 0

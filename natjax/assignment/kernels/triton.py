"""The whole auction in one Pallas kernel: every epsilon phase and every round in one launch.

The XLA kernels of `auction.py` pay a loop iteration (a launch and, on GPUs, a trip of the
loop condition to the host) per round, whatever the round computes. Here one program holds the
state (`prices`, each row's column, each column's row) in registers for the whole solve, and
reads one bidding row of the integer benefits per bidder and round from device memory.

Each round the first `k` unassigned rows (found with a prefix sum) bid at once, as in the
block kernel of `auction.py`, and each column goes to its highest bidder (the lowest row among
equal bids). Every index-dependent update is a one-hot select over a `[k, n]` tile, so the
kernel needs only elementwise ops, reductions, a prefix sum and a row gather: what Pallas'
Triton lowering provides on GPUs. Shapes are padded to powers of two (Triton's requirement):
padding rows hold padding columns from the start and never bid; padding columns are never
worth anything to a real row.

This is the kernel of Pallas' Triton backend, deprecated since JAX 0.11 and kept while JAX
ships it (AMD GPUs have only Triton). `mosaic_gpu.py` is the same auction for Mosaic GPU, its
successor, and `pallas_tpu.py` for TPUs; `natjax.assignment.kernels` says which runs where.
Elsewhere (CPU tests) this kernel runs in Pallas' interpret mode.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl

from natjax.assignment.kernels.lowering import varying_output
from natjax.assignment.kernels.phases import epsilon_phases

_NEG = jnp.iinfo(jnp.int32).min
_BIG = jnp.iinfo(jnp.int32).max
# Largest padded size the kernel is used for by default: beyond it a `[k, n]` tile no longer
# fits in one program's registers (the XLA kernels take over).
MAX_SIZE = 4096


class Carry(NamedTuple):
    prices: jax.Array  # int32 [n]
    row_col: jax.Array  # int32 [n]: column held by each row, -1 if none.
    col_row: jax.Array  # int32 [n]: row holding each column, -1 if none.
    eps: jax.Array  # int32 []
    rounds: jax.Array  # int32 []


def _gather(onehot: jax.Array, values: jax.Array) -> jax.Array:
    """Per row of `onehot` `[k, n]` (one True per row, else 0), the selected entry of `values`
    (`[n]`, shared by the rows, or `[k, n]`): `[k]`."""
    return jnp.sum(jnp.where(onehot, values, 0), axis=1)


def _scatter_mask(onehot: jax.Array) -> jax.Array:
    """Columns of `onehot` `[k, n]` that any row selects: bool `[n]`."""
    return jnp.max(onehot.astype(jnp.int32), axis=0) > 0


def _values(rows_tile: jax.Array, prices: jax.Array, b: int) -> jax.Array:
    """Benefit minus price `[k, n]`; padding columns are worth `_NEG` to every row."""
    cols = jax.lax.broadcasted_iota(jnp.int32, rows_tile.shape, 1)
    return jnp.where(cols < b, rows_tile - prices[None, :], _NEG)


def _bid(benefits_ref, s: Carry, b: int, k: int) -> Carry:
    """One round: the first `k` free rows bid for their best column."""
    n = s.prices.shape[0]
    cols = jax.lax.broadcasted_iota(jnp.int32, (k, n), 1)
    slots = jax.lax.broadcasted_iota(jnp.int32, (k, n), 0)
    free = s.row_col < 0  # [n]; padding rows are never free.
    rank = jnp.cumsum(free.astype(jnp.int32)) - 1
    rows = jnp.max(jnp.where(free[None, :] & (rank[None, :] == slots), cols, -1), axis=1)  # [k]
    active = rows >= 0
    values = _values(benefits_ref[jnp.maximum(rows, 0), :], s.prices, b)  # [k, n]
    w1 = jnp.max(values, axis=1)
    # Among equally good columns row i takes the first at or after column i (cyclically), so
    # rows with tied preferences spread over the tied columns (as in auction.py).
    distance = cols - rows[:, None]
    distance = jnp.where(distance < 0, distance + n, distance)
    j1 = jnp.min(jnp.where(values == w1[:, None], distance, n), axis=1) + rows
    j1 = jnp.where(j1 >= n, j1 - n, j1)
    hit = (cols == j1[:, None]) & active[:, None]  # [k, n]: the column each bidder bids for.
    w2 = jnp.max(jnp.where(cols == j1[:, None], _NEG, values), axis=1)
    bid = jnp.where(active, _gather(hit, s.prices) + (w1 - w2) + s.eps, _NEG)
    best = jnp.max(jnp.where(hit, bid[:, None], _NEG), axis=0)  # [n]: highest bid per column.
    top = active & (bid == _gather(hit, best))
    winner = jnp.min(jnp.where(hit & top[:, None], rows[:, None], n), axis=0)  # [n]
    got = winner < n
    won = top & (_gather(hit, winner) == rows)
    owner = _gather(hit, s.col_row)  # Each bid column's previous row, -1 if it was free.
    takes = (cols == rows[:, None]) & won[:, None]
    row_col = jnp.where(
        _scatter_mask(takes), jnp.sum(jnp.where(takes, j1[:, None], 0), 0), s.row_col
    )
    evicted = (cols == owner[:, None]) & (won & (owner >= 0))[:, None]
    return s._replace(
        prices=jnp.where(got, best, s.prices),
        row_col=jnp.where(_scatter_mask(evicted), -1, row_col),
        col_row=jnp.where(got, winner, s.col_row),
        rounds=s.rounds + 1,
    )


def _release(benefits_ref, s: Carry, b: int, k: int) -> Carry:
    """Phase start: prices renormalised; the pairs that violate epsilon-complementary slackness
    (`value < best value - eps`) are released, `k` rows at a time."""
    n = s.prices.shape[0]
    real = jax.lax.broadcasted_iota(jnp.int32, (n,), 0) < b
    prices = jnp.where(real, s.prices - jnp.min(jnp.where(real, s.prices, _BIG)), 0)
    cols = jax.lax.broadcasted_iota(jnp.int32, (k, n), 1)

    def chunk(c, released):
        release_rows, release_cols = released
        rows = c * k + jax.lax.broadcasted_iota(jnp.int32, (k,), 0)
        values = _values(benefits_ref[pl.ds(c * k, k), :], prices, b)  # [k, n]
        mine = cols == rows[:, None]
        held_col = _gather(mine, s.row_col)  # [k]
        held = cols == held_col[:, None]
        slack = _gather(held, values) >= jnp.max(values, axis=1) - s.eps
        drop = (held_col >= 0) & ~slack & (rows < b)
        release_rows |= _scatter_mask(mine & drop[:, None])
        release_cols |= _scatter_mask(held & drop[:, None])
        return release_rows, release_cols

    none = jnp.zeros((n,), jnp.bool_)
    release_rows, release_cols = jax.lax.fori_loop(0, n // k, chunk, (none, none))
    return s._replace(
        prices=prices,
        row_col=jnp.where(release_rows, -1, s.row_col),
        col_row=jnp.where(release_cols, -1, s.col_row),
    )


def _kernel(
    benefits_ref, prices_ref, eps_ref, row_col_ref, stats_ref, *, b, k, scaling, max_rounds
):
    n = benefits_ref.shape[0]
    index = jax.lax.broadcasted_iota(jnp.int32, (n,), 0)
    unassigned = jnp.where(index < b, -1, index)  # Padding rows hold padding columns.
    start = Carry(prices_ref[...], unassigned, unassigned, eps_ref[0], jnp.int32(0))

    s = epsilon_phases(
        start,
        lambda s: _release(benefits_ref, s, b, k),
        lambda s: _bid(benefits_ref, s, b, k),
        scaling=scaling,
        max_rounds=max_rounds,
    )
    row_col_ref[...] = s.row_col
    complete = (jnp.min(s.row_col) >= 0).astype(jnp.int32)
    stats_ref[...] = jnp.where(
        jax.lax.broadcasted_iota(jnp.int32, (2,), 0) == 0, s.rounds, complete
    )


def padded_size(b: int) -> int:
    """The kernel's problem size: `b` rounded up to a power of two (Triton's block shapes)."""
    return max(2, pl.next_power_of_2(b))


def default_bidders(b: int) -> int:
    """Rows that bid per round (a power of two): 16 up to b = 512, then fewer, so that a
    `[k, n]` tile stays near 16 elements per thread with at most 16 warps (spill-free when
    compiled for sm_90a: `python -m natjax.bench kernel`). Untimed: the GPU script's
    `triton_k*` variants measure the alternatives."""
    return min(padded_size(b), max(4, min(16, 8192 // padded_size(b))))


def default_warps(n: int, k: int) -> int:
    """Warps of the program: 16 elements of the `[k, n]` tile per thread, 4 to 16 warps (32
    halves the registers a thread may hold, and spills more)."""
    return min(16, max(4, k * n // 512))


def triton_auction(
    benefits: jax.Array,
    prices: jax.Array,
    eps: jax.Array,
    *,
    scaling: int,
    max_rounds: int,
    bidders: int | None = None,
    num_warps: int | None = None,
    interpret: bool | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Every phase of the auction on integer `benefits` `[b, b]` from `prices` `[b]` and the
    first phase's `eps` `[]`, in one kernel. Returns (row_col `[b]`, -1 where a row was left
    unassigned by `max_rounds`; rounds `[]`; complete `[]` bool).

    `interpret` (default: off on GPUs only) runs the kernel in Pallas' interpret mode.
    """
    b = benefits.shape[0]
    n = padded_size(b)
    k = min(n, pl.next_power_of_2(bidders or default_bidders(b)))
    if interpret is None:
        interpret = jax.default_backend() != "gpu"
    params = {}
    if not interpret:
        from jax.experimental.pallas import triton as pltriton

        params["compiler_params"] = pltriton.CompilerParams(
            num_warps=num_warps or default_warps(n, k), num_stages=1
        )
    kernel = functools.partial(_kernel, b=b, k=k, scaling=scaling, max_rounds=max_rounds)
    call = pl.pallas_call(
        kernel,
        out_shape=(varying_output((n,), benefits), varying_output((2,), benefits)),
        interpret=interpret,
        name="natjax_auction",
        **params,
    )
    pad = n - b
    row_col, stats = call(
        jnp.pad(benefits, ((0, pad), (0, pad))),
        jnp.pad(prices, (0, pad)),
        jnp.reshape(eps, (1,)).astype(jnp.int32),
    )
    return row_col[:b], stats[0], stats[1] > 0

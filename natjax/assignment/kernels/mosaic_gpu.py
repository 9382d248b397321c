"""The auction kernel of `triton.py`, written for Pallas' Mosaic GPU backend.

Same algorithm, same bids, same rounds as `triton.triton_auction` (and as the block kernel of
`auction.py` with the same bidders): every epsilon phase and every round in one launch. What
changes is how the kernel is laid out for Mosaic GPU, which lowers array code one warpgroup
(128 threads) at a time and needs every register array in a layout it knows:

- The bidders' tile `[k, n]` is one WGMMA-layout array, so `k = 64` bidders (its rows must
  be a multiple of 64; `n`, padded to a power of two >= 64, a multiple of 8). Per-column state
  (`prices`, each column's row, and each row's column, indexed like the columns) lives in the
  layout of the tile reduced over its rows; per-bidder values in the layout reduced over its
  columns, so every broadcast and one-axis reduction of `triton.py` maps onto one of them.
- Bidders: Mosaic GPU has no lowering of `cumsum` (JAX 0.10, 0.12), so the first `k` free
  rows are found by `k` successive min-reductions (slot `c` takes the lowest free row above
  slot `c - 1`'s).
- Rows: the benefits stay in device memory; each bidder's row is copied by the TMA into a
  shared-memory tile `[k, n]` (one copy per row, or per 256 columns: the TMA's box limit),
  all on one barrier, and the tile is loaded into registers. Phase starts read the benefits
  in blocks of `k` rows the same way.
- Bids are resolved exactly as in `triton.py`: one-hot selects over the tile, reductions over
  its columns (per bidder) and its rows (per column).

Mosaic GPU specifics that shape the code: arrays get their layouts from `layout_cast` and
`plgpu.load` (skipped in interpret mode, which knows neither); `x[:, None]` would pass
through a `[k, 1]` array no tiled layout holds, so broadcasts are direct (`_down`,
`_across`); a select whose first case is a constant comes out unsigned (JAX 0.10 and 0.12),
so constants go second (`_put`; a test checks that no int32 ordering is unsigned); the tile
is loaded unoptimised (Mosaic GPU finds no bank-conflict-free plan for an unswizzled tile);
JAX 0.12's default Warpgroup semantics rejects the bool-to-int conversion, so the kernel asks
for Lane semantics (0.10's default).

Limits: `n <= 512` (`MAX_SIZE`): the tile, `64 n` int32, must fit in shared memory (227 KiB
on an H100). `bidders` is always 64 (for `b <= 64` every free row bids: the Jacobi auction),
where `triton.py` defaults to 16, so the two take different rounds. Each `[k, n]` array takes
`n / 2` registers per thread of the one warpgroup, so from `n = 256` on the kernel likely
spills (not measured). Only the lowering to Mosaic GPU's MLIR is checked (on a machine
without a GPU); that ptxas compiles it, that it runs on a GPU, and how fast, are not. Exactness
against the block kernel is checked in Mosaic GPU's interpret mode (`InterpretGPUParams`),
which runs the same kernel, TMA copies and barrier included, on the CPU.
"""

import functools
import inspect

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import mosaic_gpu as plgpu

from natjax.assignment.kernels.lowering import varying_output
from natjax.assignment.kernels.phases import epsilon_phases
from natjax.assignment.kernels.triton import Carry

_NEG = jnp.iinfo(jnp.int32).min
_BIG = jnp.iinfo(jnp.int32).max
BIDDERS = 64  # Rows of a WGMMA-layout tile.
MAX_SIZE = 512
_TMA_BOX = 256  # Most elements one TMA copy moves along a dimension.

# `plgpu.load` takes an index in JAX 0.10, a reference alone in 0.12.
if "idx" in inspect.signature(plgpu.load).parameters:
    _load = functools.partial(plgpu.load, idx=())
else:
    _load = plgpu.load

_TILE = plgpu.Layout.WGMMA
_PER_COLUMN = plgpu.Layout.WGMMA.reduce(0)  # [n]: the tile reduced over its rows.
_PER_BIDDER = plgpu.Layout.WGMMA.reduce(1)  # [k]: the tile reduced over its columns.


def padded_size(b: int) -> int:
    """The kernel's problem size: `b` rounded up to a power of two, at least 64."""
    return max(BIDDERS, pl.next_power_of_2(b))


def _down(x: jax.Array, n: int) -> jax.Array:
    """Per-bidder `x` `[k]` repeated along the tile's `n` columns: `[k, n]` (`x[:, None]`,
    which would pass through a `[k, 1]` array that no tiled layout holds)."""
    return jax.lax.broadcast_in_dim(x, (x.shape[0], n), (0,))


def _across(x: jax.Array, k: int) -> jax.Array:
    """Per-column `x` `[n]` repeated along the tile's `k` rows: `[k, n]`."""
    return jax.lax.broadcast_in_dim(x, (k, x.shape[0]), (1,))


def _put(mask: jax.Array, value: int, x: jax.Array) -> jax.Array:
    """`jnp.where(mask, value, x)` for a constant `value`, with the array as the select's first
    case: Mosaic GPU (JAX 0.10) gives a select whose first case is a constant the signedness of
    the predicate, so later comparisons, minima and maxima would be unsigned."""
    return jnp.where(~mask, x, value)


def _gather(onehot: jax.Array, values: jax.Array) -> jax.Array:
    """Per row of `onehot` `[k, n]` (at most one True per row), the selected entry of `values`
    (`[n]`, or `[k, n]`), 0 where none: `[k]`."""
    return jnp.sum(jnp.where(onehot, values, 0), axis=1)


def _scatter_mask(onehot: jax.Array) -> jax.Array:
    """Columns of `onehot` `[k, n]` that any row selects: bool `[n]`."""
    return jnp.max(onehot.astype(jnp.int32), axis=0) > 0


class _Memory:
    """The kernel's references: benefits in device memory, the tile and its barrier.
    `interpreted`: the kernel runs in Mosaic GPU's interpret mode."""

    def __init__(self, benefits, tile, barrier, interpreted: bool):
        self.benefits, self.tile, self.barrier = benefits, tile, barrier
        self.interpreted = interpreted

    def cast(self, x: jax.Array, layout) -> jax.Array:
        """`x` in Mosaic GPU's register `layout` (the interpreter knows no layouts)."""
        return x if self.interpreted else plgpu.layout_cast(x, layout)

    def iota(self, shape: tuple[int, ...], dim: int, layout) -> jax.Array:
        return self.cast(jax.lax.broadcasted_iota(jnp.int32, shape, dim), layout)

    def copy_row(self, slot, row) -> None:
        """Starts the TMA copies of benefit row `row` into tile row `slot`."""
        n = self.benefits.shape[1]
        box = min(n, _TMA_BOX)
        for start in range(0, n, box):
            plgpu.copy_gmem_to_smem(
                self.benefits.at[pl.ds(row, 1), pl.ds(start, box)],
                self.tile.at[pl.ds(slot, 1), pl.ds(start, box)],
                self.barrier,
            )

    def load(self, ref, layout) -> jax.Array:
        """`ref[...]` in `layout` (the interpreter has no rule for `plgpu.load`)."""
        return ref[...] if self.interpreted else _load(ref, layout=layout, optimized=False)

    def load_tile(self) -> jax.Array:
        """Waits for the copies of a whole tile, then loads it `[k, n]`. (Unoptimised: Mosaic
        GPU finds no bank-conflict-free plan for an unswizzled tile, and a swizzled one would
        take the TMA's copies only in blocks of 8 rows.)"""
        plgpu.barrier_wait(self.barrier)
        return self.load(self.tile, _TILE)


def _values(memory: _Memory, tile: jax.Array, prices: jax.Array, b: int) -> jax.Array:
    """Benefit minus price `[k, n]`; padding columns are worth `_NEG` to every row."""
    cols = memory.iota(tile.shape, 1, _TILE)
    return jnp.where(cols < b, tile - _across(prices, tile.shape[0]), _NEG)


def _pick_bidders(memory: _Memory, row_col: jax.Array, k: int) -> jax.Array:
    """The first `k` free rows in index order (`n` in unused slots), `[k]`; starts the copies
    of their benefit rows into the tile."""
    n = row_col.shape[0]
    index = memory.iota((n,), 0, _PER_COLUMN)
    slot = memory.iota((k,), 0, _PER_BIDDER)
    free = row_col < 0

    def one(c, carry):
        rows, last = carry
        row = jnp.min(jnp.where(free & (index > last), index, n))
        memory.copy_row(c, jnp.minimum(row, n - 1))
        return jnp.where(slot != c, rows, row), row  # (Tiled case first: it sets the sign.)

    rows, _ = jax.lax.fori_loop(0, k, one, (slot, jnp.int32(-1)))  # Every slot is overwritten.
    return rows


def _bid(memory: _Memory, s: Carry, b: int, k: int) -> Carry:
    """One round: the first `k` free rows bid for their best column (as `triton._bid`)."""
    n = s.prices.shape[0]
    cols = memory.iota((k, n), 1, _TILE)
    rows = _pick_bidders(memory, s.row_col, k)  # [k]
    active = rows < n
    values = _values(memory, memory.load_tile(), s.prices, b)  # [k, n]
    w1 = jnp.max(values, axis=1)
    # Among equally good columns row i takes the first at or after column i (cyclically).
    distance = cols - _down(rows, n)
    distance = jnp.where(distance < 0, distance + n, distance)
    j1 = jnp.min(jnp.where(values == _down(w1, n), distance, n), axis=1) + rows
    j1 = jnp.where(j1 >= n, j1 - n, j1)
    hit = (cols == _down(j1, n)) & _down(active, n)  # [k, n]: the column each bidder bids for.
    w2 = jnp.max(_put(cols == _down(j1, n), _NEG, values), axis=1)
    bid = jnp.where(active, _gather(hit, s.prices) + (w1 - w2) + s.eps, _NEG)
    best = jnp.max(jnp.where(hit, _down(bid, n), _NEG), axis=0)  # [n]: highest bid per column.
    top = active & (bid == _gather(hit, best))
    winner = jnp.min(jnp.where(hit & _down(top, n), _down(rows, n), n), axis=0)  # [n]
    got = winner < n
    won = top & (_gather(hit, winner) == rows)
    owner = _gather(hit, s.col_row)  # Each bid column's previous row, -1 if it was free.
    takes = (cols == _down(rows, n)) & _down(won, n)
    row_col = jnp.where(
        _scatter_mask(takes), jnp.sum(jnp.where(takes, _down(j1, n), 0), axis=0), s.row_col
    )
    evicted = (cols == _down(owner, n)) & _down(won & (owner >= 0), n)
    return s._replace(
        prices=jnp.where(got, best, s.prices),
        row_col=_put(_scatter_mask(evicted), -1, row_col),
        col_row=jnp.where(got, winner, s.col_row),
        rounds=s.rounds + 1,
    )


def _release(memory: _Memory, s: Carry, b: int, k: int) -> Carry:
    """Phase start: prices renormalised; the pairs that violate epsilon-complementary slackness
    (`value < best value - eps`) are released, `k` rows at a time (as `triton._release`)."""
    n = s.prices.shape[0]
    index = memory.iota((n,), 0, _PER_COLUMN)
    real = index < b
    prices = jnp.where(real, s.prices - jnp.min(jnp.where(real, s.prices, _BIG)), 0)
    cols = memory.iota((k, n), 1, _TILE)
    slot = memory.iota((k,), 0, _PER_BIDDER)

    def chunk(c, released):
        release_rows, release_cols = released
        rows = c * k + slot

        def copy(i, _):
            memory.copy_row(i, c * k + i)
            return 0

        jax.lax.fori_loop(0, k, copy, 0)
        values = _values(memory, memory.load_tile(), prices, b)  # [k, n]
        mine = cols == _down(rows, n)
        held_col = _gather(mine, s.row_col)  # [k]
        held = cols == _down(held_col, n)
        slack = _gather(held, values) >= jnp.max(values, axis=1) - s.eps
        drop = (held_col >= 0) & ~slack & (rows < b)
        release_rows |= _scatter_mask(mine & _down(drop, n))
        release_cols |= _scatter_mask(held & _down(drop, n))
        return release_rows, release_cols

    none = index < 0
    release_rows, release_cols = jax.lax.fori_loop(0, n // k, chunk, (none, none))
    return s._replace(
        prices=prices,
        row_col=_put(release_rows, -1, s.row_col),
        col_row=_put(release_cols, -1, s.col_row),
    )


def _kernel(
    benefits_ref, prices_ref, eps_ref, row_col_ref, stats_ref, *, b, k, interpreted, **kwargs
):
    """Allocates the tile and its barrier (in the kernel, not as `scratch_shapes`: Mosaic GPU's
    interpret mode allocates barriers only in `run_scoped`) and solves."""
    n = benefits_ref.shape[0]
    box = min(n, _TMA_BOX)

    def solve(tile_ref, barrier_ref):
        memory = _Memory(benefits_ref, tile_ref, barrier_ref, interpreted)
        _solve(memory, prices_ref, eps_ref, row_col_ref, stats_ref, b=b, k=k, **kwargs)

    pl.run_scoped(solve, plgpu.SMEM((k, n), jnp.int32), plgpu.Barrier(num_arrivals=k * (n // box)))


def _solve(memory, prices_ref, eps_ref, row_col_ref, stats_ref, *, b, k, scaling, max_rounds):
    n = prices_ref.shape[0]
    index = memory.iota((n,), 0, _PER_COLUMN)
    unassigned = _put(index < b, -1, index)  # Padding rows hold padding columns.
    # Inside shard_map only what is read from a reference varies over the mesh's axes, not
    # what is computed from it; `+ 0` makes the loops' starting values computed ones too.
    prices = memory.load(prices_ref, _PER_COLUMN) + 0
    start = Carry(prices, unassigned, unassigned, eps_ref[0] + 0, jnp.int32(0))

    s = epsilon_phases(
        start,
        lambda s: _release(memory, s, b, k),
        lambda s: _bid(memory, s, b, k),
        scaling=scaling,
        max_rounds=max_rounds,
    )
    row_col_ref[...] = s.row_col
    stats_ref[0] = s.rounds
    stats_ref[1] = (jnp.min(s.row_col) >= 0).astype(jnp.int32)


def mosaic_auction(
    benefits: jax.Array,
    prices: jax.Array,
    eps: jax.Array,
    *,
    scaling: int,
    max_rounds: int,
    bidders: int | None = None,
    interpret=None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """`triton.triton_auction` on Mosaic GPU: every phase of the auction on integer `benefits`
    `[b, b]` from `prices` `[b]` and the first phase's `eps` `[]`, in one kernel. Returns
    (row_col `[b]`, -1 where a row was left unassigned by `max_rounds`; rounds `[]`; complete
    `[]` bool).

    `bidders` must be `BIDDERS` (or None). `interpret`: Mosaic GPU's interpret mode (an
    `InterpretGPUParams`, or True for the default one); default: on off GPUs.
    """
    b = benefits.shape[0]
    n = padded_size(b)
    if n > MAX_SIZE:
        raise ValueError(f"The Mosaic GPU auction kernel solves b <= {MAX_SIZE}, not b = {b}.")
    if bidders not in (None, BIDDERS):
        raise ValueError(f"The Mosaic GPU auction kernel has {BIDDERS} bidders, not {bidders}.")
    k = BIDDERS
    if interpret is None:
        interpret = jax.default_backend() != "gpu"
    if interpret is True:
        interpret = interpret_params()
    kernel = functools.partial(
        _kernel, b=b, k=k, interpreted=bool(interpret), scaling=scaling, max_rounds=max_rounds
    )
    call = plgpu.kernel(
        kernel,
        out_type=(varying_output((n,), benefits), varying_output((2,), benefits)),
        # Lane semantics (JAX 0.10's default; 0.12's Warpgroup semantics rejects the tile's
        # bool-to-int conversion).
        compiler_params=plgpu.CompilerParams(lowering_semantics=plgpu.LoweringSemantics.Lane),
        interpret=interpret or None,
    )
    pad = n - b
    row_col, stats = call(
        jnp.pad(benefits, ((0, pad), (0, pad))),
        jnp.pad(prices, (0, pad)),
        jnp.reshape(eps, (1,)).astype(jnp.int32),
    )
    return row_col[:b], stats[0], stats[1] > 0


def interpret_params():
    """Mosaic GPU's interpret mode (public in JAX 0.12, private in 0.10)."""
    params = getattr(plgpu, "InterpretGPUParams", None)
    if params is None:
        from jax._src.pallas.mosaic_gpu.interpret.params import InterpretGPUParams as params
    return params()

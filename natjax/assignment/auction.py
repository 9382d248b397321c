"""Bertsekas' auction algorithm with epsilon-scaling, for data-parallel hardware.

In each round unassigned rows bid for their best column at the price that makes them
indifferent to their second best, plus epsilon, and each column goes to its highest bidder.
Two kernels share the phases:

- `bidders == 1` (the default on CPU): the Gauss-Seidel auction. The free rows are kept on a
  stack; a round pops one, finds its best two columns in one fused pass over its `b`
  benefits, and applies the bid with `O(1)` updates, so a round costs `O(b)` and little else.
- `bidders > 1` (the default on accelerators): up to `bidders` free rows bid at once and
  each column goes to its highest bidder (with `bidders >= b`, the Jacobi auction in which
  every free row bids). A round costs `O(bidders * b)` in a few wide kernels.

Between phases the pairs that still satisfy epsilon-complementary slackness are kept.
Everything is `lax.while_loop` with static shapes: it jits, vmaps, and runs inside `shard_map`
and the train step. On accelerators each loop check is a device-to-host copy, so the loop
checks its condition every `rounds_per_check` rounds (rounds after the last free row are
no-ops). On GPUs the default is a kernel of `kernels/` instead: the block kernel's bids, every
phase and round in one Pallas kernel launch.

Starting prices: a few Sinkhorn iterations (`prices.py`) give near-optimal dual prices, so the
phases only correct them; NAT's nearly parallel features otherwise start a price war of
thousands of small bids. The first phase's epsilon is then small (span / `START`).

Exactness: the scores are quantised to integers on a grid of `L` levels over their range, and
the integer benefits are scaled by `b + 1`. The last phase runs at epsilon = 1, which is below
1/b of the grid's resolution (`b + 1`), so the permutation is *optimal for the quantised
scores* (epsilon-complementary slackness with `b * epsilon < b + 1`). Integer-valued scores
with at most `L` distinct levels over their range are therefore solved exactly; for other
float scores the total is within `b * range / L` of the optimum. None of this depends on the
starting prices. `L = 2^29 // (b + 1)`, so all arithmetic stays inside int32: starting prices
lie in `[0, span]`, each phase renormalises the lowest price to 0, and a bid never raises a
price above the lowest one plus `span + epsilon`.

Termination: every bid raises a price by at least epsilon >= 1, and prices are bounded, so each
phase ends; `max_rounds` bounds the total anyway. If the bound is reached, the rows still
unassigned take the free columns in index order, so the result is always a permutation, and
`converged` is False. Non-finite scores give the identity permutation and `converged=False`
(`natjax.assignment.solve` rejects them outside jit).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from natjax.assignment import kernels
from natjax.assignment.prices import sinkhorn_prices

_INT_MIN = jnp.iinfo(jnp.int32).min
_HEADROOM_BITS = 29  # Benefits < 2^29: prices and bids stay below 2^31.
# Defaults chosen by counting rounds (`python -m natjax.bench assignment --sweep`).
START = 1024
SCALING = 8
WARM_START_ITERATIONS = 10
TEMPERATURE = 0.01  # Sinkhorn's, on benefits scaled to [0, 1].


class AuctionResult(NamedTuple):
    perm: jax.Array  # int32 [b]: column of each row.
    rounds: jax.Array  # int32 []: bidding rounds over all phases.
    converged: jax.Array  # bool []: False if max_rounds stopped it or the scores were not finite.


class _State(NamedTuple):
    prices: jax.Array  # int32 [b]
    row_col: jax.Array  # int32 [b]: column held by each row, -1 if none.
    col_row: jax.Array  # int32 [b]: row holding each column, -1 if none.
    eps: jax.Array  # int32 []
    rounds: jax.Array  # int32 []
    free: jax.Array  # int32 [b]: the free rows, a stack (Gauss-Seidel kernel only).
    num_free: jax.Array  # int32 []: the stack's height.


def quantize(scores: jax.Array) -> jax.Array:
    """Integer benefits `round((s - min) / range * L) * (b + 1)`, int32 `[b, b]`."""
    b = scores.shape[0]
    levels = (1 << _HEADROOM_BITS) // (b + 1)
    lo, hi = jnp.min(scores), jnp.max(scores)
    span = jnp.where(hi > lo, hi - lo, 1.0)
    q = jnp.round((scores - lo).astype(jnp.float32) / span * levels).astype(jnp.int32)
    return q * (b + 1)


def _best_two(values: jax.Array, rows: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per row: best column, best and second-best value. Among equally good columns row `i`
    takes the first at or after column `i` (cyclically), so rows with tied preferences spread
    over the tied columns instead of all bidding for the lowest index."""
    b = values.shape[1]
    w1 = jnp.max(values, axis=1)
    cols = jnp.arange(b, dtype=jnp.int32)
    distance = cols[None, :] - rows[:, None]  # [k, b]
    distance = jnp.where(distance < 0, distance + b, distance)  # (j - i) mod b, without a mod.
    j1 = jnp.argmin(jnp.where(values == w1[:, None], distance, b), axis=1).astype(jnp.int32)
    w2 = jnp.max(jnp.where(cols[None, :] == j1[:, None], _INT_MIN, values), axis=1)
    return j1, w1, w2


def _top_two(values: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Best column (the lowest index among ties), best and second-best value of `values`
    `[b]`, in one reduction."""
    b = values.shape[0]

    def merge(x, y):
        (x1, xj, x2), (y1, yj, y2) = x, y
        take_x = (x1 > y1) | ((x1 == y1) & (xj < yj))
        second = jnp.maximum(jnp.maximum(x2, y2), jnp.minimum(x1, y1))
        return jnp.where(take_x, x1, y1), jnp.where(take_x, xj, yj), second

    operands = (values, jnp.arange(b, dtype=jnp.int32), jnp.full_like(values, _INT_MIN))
    init = (jnp.int32(_INT_MIN), jnp.int32(b), jnp.int32(_INT_MIN))
    w1, j1, w2 = jax.lax.reduce(operands, init, merge, (0,))
    return j1, w1, w2


def _set(x: jax.Array, index: jax.Array, value: jax.Array) -> jax.Array:
    """`x.at[index].set(value)` for a scalar index, as an in-place dynamic update slice."""
    return jax.lax.dynamic_update_index_in_dim(x, value, index, 0)


def _single_round(benefits, state: _State) -> _State:
    """The free row on top of the stack bids; the row it evicts (if any) takes its place."""
    top = state.num_free - 1
    i = state.free[top]
    j, w1, w2 = _top_two(benefits[i] - state.prices)
    evicted = state.col_row[j]  # -1 if column j was free.
    k = jnp.maximum(evicted, 0)
    row_col = _set(state.row_col, k, jnp.where(evicted >= 0, -1, state.row_col[k]))
    return state._replace(
        prices=_set(state.prices, j, state.prices[j] + w1 - w2 + state.eps),
        row_col=_set(row_col, i, j),
        col_row=_set(state.col_row, j, i),
        free=_set(state.free, top, evicted),
        num_free=jnp.where(evicted >= 0, state.num_free, top),
        rounds=state.rounds + 1,
    )


def _apply_bids(state: _State, rows, values, active) -> _State:
    """Rows `rows` (`[k]`, `values` `[k, b]` = benefit - price) bid where `active`."""
    b = state.prices.shape[0]
    j1, w1, w2 = _best_two(values, rows)
    bid = state.prices[j1] + (w1 - w2) + state.eps
    bid = jnp.where(active, bid, _INT_MIN)
    best = jnp.full(b, _INT_MIN, jnp.int32).at[j1].max(bid)  # Highest bid per column.
    wins = active & (bid == best[j1])
    winner = jnp.full(b, b, jnp.int32).at[j1].min(jnp.where(wins, rows, b))  # Lowest row wins.
    got = winner < b  # Columns that change hands.
    evicted = jnp.where(got & (state.col_row >= 0), state.col_row, b)
    row_col = state.row_col.at[evicted].set(-1, mode="drop")
    row_col = row_col.at[jnp.where(got, winner, b)].set(jnp.arange(b), mode="drop")
    return state._replace(
        prices=jnp.where(got, best, state.prices),
        row_col=row_col,
        col_row=jnp.where(got, winner, state.col_row),
        rounds=state.rounds + 1,
    )


def _wide_round(benefits, state: _State) -> _State:
    b = benefits.shape[0]
    values = benefits - state.prices[None, :]
    return _apply_bids(state, jnp.arange(b, dtype=jnp.int32), values, state.row_col < 0)


def _bidders_round(benefits, state: _State, k: int) -> _State:
    b = benefits.shape[0]
    (rows,) = jnp.nonzero(state.row_col < 0, size=k, fill_value=b)
    rows = rows.astype(jnp.int32)
    values = benefits[jnp.minimum(rows, b - 1)] - state.prices[None, :]  # [k, b]
    return _apply_bids(state, rows, values, rows < b)


def _keep_slack_pairs(benefits, state: _State) -> _State:
    """Keeps the pairs that satisfy epsilon-complementary slackness for the current epsilon
    (`value >= best value - eps`); the others are released to bid again."""
    b = benefits.shape[0]
    values = benefits - state.prices[None, :]
    held = jnp.take_along_axis(values, jnp.maximum(state.row_col, 0)[:, None], axis=1)[:, 0]
    keep = (state.row_col >= 0) & (held >= jnp.max(values, axis=1) - state.eps)
    row_col = jnp.where(keep, state.row_col, -1)
    col_row = (
        jnp.full(b, -1, jnp.int32)
        .at[jnp.where(keep, row_col, b)]
        .set(jnp.arange(b, dtype=jnp.int32), mode="drop")
    )
    return state._replace(row_col=row_col, col_row=col_row)


def _phase(benefits, state: _State, max_rounds: int, bidders: int, rounds_per_check: int) -> _State:
    """One epsilon phase, from the pairs still valid for this epsilon, until every row holds
    a column. The loop checks its condition every `rounds_per_check` rounds."""
    b = benefits.shape[0]
    state = _keep_slack_pairs(benefits, state._replace(prices=state.prices - jnp.min(state.prices)))
    (free,) = jnp.nonzero(state.row_col < 0, size=b, fill_value=b)
    state = state._replace(
        free=free.astype(jnp.int32), num_free=jnp.sum(state.row_col < 0, dtype=jnp.int32)
    )

    def cond(s):
        return (s.num_free > 0) & (s.rounds < max_rounds)

    def one_round(s):
        if bidders == 1:
            return _single_round(benefits, s)
        s = _wide_round(benefits, s) if bidders >= b else _bidders_round(benefits, s, bidders)
        return s._replace(num_free=jnp.sum(s.row_col < 0, dtype=jnp.int32))

    def body(s):
        s = one_round(s)
        for _ in range(rounds_per_check - 1):  # Rounds after the last free row are no-ops.
            s = jax.tree.map(functools.partial(jnp.where, cond(s)), one_round(s), s)
        return s

    return jax.lax.while_loop(cond, body, state)


def _complete(row_col: jax.Array) -> jax.Array:
    """Gives the free columns to the unassigned rows in index order (a no-op once complete)."""
    b = row_col.shape[0]
    held = jnp.zeros(b + 1, jnp.bool_).at[jnp.where(row_col >= 0, row_col, b)].set(True)[:b]
    (rows,) = jnp.nonzero(row_col < 0, size=b, fill_value=b)
    (cols,) = jnp.nonzero(~held, size=b, fill_value=b)
    return row_col.at[rows].set(cols.astype(jnp.int32), mode="drop")


def default_bidders(b: int, backend: str | None = None) -> int:
    """Rows that bid per round in the XLA kernels. On CPU one bidder per round (the
    Gauss-Seidel kernel, O(b) per round) measures fastest; on accelerators a round is one wide
    kernel and a loop iteration costs a launch, so up to b/16 rows bid at once."""
    backend = backend or jax.default_backend()
    return 1 if backend == "cpu" else min(b, max(8, b // 16))


def default_kernel(b: int) -> str:
    """`triton` (one launch, `kernels/triton.py`) on GPUs where it compiles for this size, else
    `xla`. TPUs keep the XLA kernels until a TPU has timed `pallas_tpu` against them."""
    if jax.default_backend() == "gpu" and kernels.fits("triton", b):
        return "triton" if kernels.compiles("triton", b) else "xla"
    return "xla"


def _xla_auction(benefits, prices, eps, *, scaling, max_rounds, bidders, rounds_per_check):
    """Every phase with the XLA kernels: (row_col, rounds, complete), as `kernels.KERNELS`."""
    # Built from the benefits, not from constants, so that inside shard_map the loop carry has
    # the same (device-varying) type as what the loop body returns.
    zeros = benefits[0] * 0  # int32 [b]
    state = _State(prices + zeros, zeros - 1, zeros - 1, eps, zeros[0], zeros, zeros[0])

    def cond(carry):
        s, done = carry
        return ~done & (s.rounds < max_rounds)

    def body(carry):
        s, _ = carry
        s = _phase(benefits, s, max_rounds, bidders, rounds_per_check)
        done = s.eps <= 1  # The epsilon = 1 phase has just ended.
        return s._replace(eps=jnp.maximum(s.eps // scaling, 1)), done

    state, _ = jax.lax.while_loop(cond, body, (state, zeros[0] > 0))
    return state.row_col, state.rounds, jnp.all(state.row_col >= 0)


def starting_point(
    scores: jax.Array, start: int = START, warm_start: int = WARM_START_ITERATIONS
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """What every kernel starts from, for finite `scores`: the integer benefits, the starting
    prices (`warm_start` Sinkhorn iterations; 0: zero prices) and the first phase's epsilon
    (the benefits' span, `[0, max]`, divided by `start`)."""
    benefits = quantize(scores)
    prices = sinkhorn_prices(benefits, warm_start, TEMPERATURE) if warm_start else benefits[0] * 0
    return benefits, prices, jnp.maximum(jnp.max(benefits) // start, 1)


def auction(
    scores: jax.Array,
    *,
    start: int = START,
    scaling: int = SCALING,
    warm_start: int = WARM_START_ITERATIONS,
    max_rounds: int | None = None,
    kernel: str | None = None,
    bidders: int | None = None,
    rounds_per_check: int | None = None,
) -> AuctionResult:
    """The permutation maximising `sum_i scores[i, perm[i]]` for float `scores` `[b, b]`.

    Args:
      scores: the score matrix (higher is better).
      start: the first phase's epsilon is the benefits' span divided by this.
      scaling: each later phase divides epsilon by this.
      warm_start: Sinkhorn iterations for the starting prices (`prices.py`); 0 starts from
        zero prices. (The defaults of these three were chosen from the round counts of
        `python -m natjax.bench assignment --sweep` over random, NAT, integer and duplicated
        scores: near the fewest rounds, at half the iterations of the setting with fewest.)
      max_rounds: bound on the bidding rounds over all phases (default `1024 * b + 10000`).
      kernel: `xla` (a loop of XLA ops per round) or one of `kernels.KERNELS` (every round in
        one kernel launch: `triton`, ...); default: `default_kernel`.
      bidders: at most this many unassigned rows (the first in index order) bid in a round
        (default: the kernel's own); in the XLA kernels `1` is the Gauss-Seidel kernel, and
        `bidders >= b` lets every unassigned row bid at once with no gather.
      rounds_per_check: XLA kernels only: rounds per check of the loop condition (default 1
        on CPU, 8 on accelerators, where each check is a device-to-host copy).
    """
    b = scores.shape[0]
    if b == 1:
        return AuctionResult(jnp.zeros(1, jnp.int32), jnp.int32(0), jnp.bool_(True))
    max_rounds = 1024 * b + 10000 if max_rounds is None else max_rounds
    kernel = kernel or default_kernel(b)
    if kernel != "xla" and kernel not in kernels.KERNELS:
        names = ", ".join(repr(k) for k in ("xla", *kernels.KERNELS))
        raise ValueError(f"Unknown auction kernel {kernel!r}; use one of {names}.")
    if kernel != "xla" and not kernels.fits(kernel, b):
        raise ValueError(
            f"The {kernel} auction kernel takes b up to {kernels.MAX_SIZES[kernel]}, not {b}: "
            "use the default kernel or 'xla' for this size."
        )
    if kernel != "xla" and jax.default_backend() != "cpu" and not kernels.compiles(kernel, b):
        kernel = "xla"  # A kernel named for other hardware (Mosaic GPU before Hopper): warned.
    finite = jnp.all(jnp.isfinite(scores))
    benefits, prices, eps = starting_point(jnp.where(finite, scores, 0.0), start, warm_start)
    if kernel != "xla":
        solve = functools.partial(kernels.KERNELS[kernel], bidders=bidders)
    else:
        cpu = jax.default_backend() == "cpu"
        solve = functools.partial(
            _xla_auction,
            bidders=bidders or default_bidders(b),
            rounds_per_check=rounds_per_check or (1 if cpu else 8),
        )
    row_col, rounds, complete = solve(benefits, prices, eps, scaling=scaling, max_rounds=max_rounds)
    perm = jnp.where(finite, _complete(row_col), jnp.arange(b, dtype=jnp.int32))
    return AuctionResult(perm, rounds, complete & finite)


def solve_auction(scores: jax.Array, kernel: str | None = None) -> jax.Array:
    """`auction(scores, kernel=kernel).perm`: the solver interface of `natjax.assignment`."""
    return auction(scores, kernel=kernel).perm

"""`python -m natjax.bench assignment`: the batch re-assignment solvers, side by side.

For each batch size b, the scores are `features @ targets.T` of unit-norm d = 128 vectors (the
real case). Timed: the auction (jit, on the default device), optax's Hungarian (jit), scipy on
the host including the device -> host -> device round trip, and lap's lapjv if installed.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from natjax.assignment import auction, solve
from natjax.bench.timing import median_seconds

HUNGARIAN_MAX_B = 1024  # Sequential O(b^3): minutes per solve beyond this.


def _scores(b: int, d: int, seed: int) -> jax.Array:
    f, t = jax.random.normal(jax.random.key(seed), (2, b, d))
    f = f / jnp.linalg.norm(f, axis=1, keepdims=True)
    t = t / jnp.linalg.norm(t, axis=1, keepdims=True)
    return f @ t.T


def _host_roundtrip(solver, scores: jax.Array) -> jax.Array:
    perm = solver(np.asarray(jax.device_get(scores), np.float64))
    return jax.device_put(perm)


def _scipy(scores: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment(scores, maximize=True)[1].astype(np.int32)


def _lapjv():
    try:
        import lap
    except ImportError:
        return None
    return lambda s: lap.lapjv(-s)[1].astype(np.int32)


def bench_size(b: int, d: int = 128, repeats: int = 7) -> dict:
    scores = jax.block_until_ready(_scores(b, d, seed=b))
    fns = {
        "auction": functools.partial(jax.jit(lambda s: auction(s).perm), scores),
        "scipy_roundtrip": functools.partial(_host_roundtrip, _scipy, scores),
    }
    if b <= HUNGARIAN_MAX_B:
        fns["hungarian"] = functools.partial(jax.jit(lambda s: solve(s, "hungarian")), scores)
    if (lapjv := _lapjv()) is not None:
        fns["lapjv_roundtrip"] = functools.partial(_host_roundtrip, lapjv, scores)
    times = median_seconds(fns, repeats)
    result = auction(scores)
    s = np.asarray(scores, np.float64)
    best = s[np.arange(b), _scipy(s)].sum()
    gap = best - s[np.arange(b), np.asarray(result.perm)].sum()
    return {
        "b": b,
        "seconds": times,
        "auction_rounds": int(result.rounds),
        "auction_converged": bool(result.converged),
        "auction_gap": float(gap),
        "auction_vs_scipy": times["scipy_roundtrip"] / times["auction"],
    }


def run(sizes=(64, 256, 1024, 4096)) -> list[dict]:
    return [bench_size(b) for b in sizes]


def format_table(rows: list[dict]) -> str:
    names = sorted({n for r in rows for n in r["seconds"]})
    head = ["b", *[f"{n} ms" for n in names], "auction rounds", "gap", "scipy/auction"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        cells = [str(r["b"])]
        cells += [f"{r['seconds'][n] * 1e3:.2f}" if n in r["seconds"] else "-" for n in names]
        cells += [
            str(r["auction_rounds"]),
            f"{r['auction_gap']:.2e}",
            f"{r['auction_vs_scipy']:.2f}x",
        ]
        lines.append(" | ".join(cells))
    return "\n".join(lines)

"""Linear-assignment solvers behind one interface: `solve(scores, method) -> perm`.

`perm[i]` is the column given to row `i`; the permutation maximises `sum_i scores[i, perm[i]]`.
Methods: `auction` (jittable, data-parallel; see `auction.py` for its exactness guarantee; on
GPUs one Pallas kernel launch, elsewhere XLA loops); `auction_xla`, `auction_triton`,
`auction_mosaic_gpu` and `auction_pallas_tpu` (the same auction with its kernel chosen: XLA
loops, or one Pallas launch per backend, `kernels/`); `hungarian` (optax's jittable
Hungarian algorithm, sequential); `scipy` (host callback, a reference for tests and a CPU
fallback). All of them run inside `jax.jit` and `jax.vmap`.
"""

import functools
from collections.abc import Callable

import jax
import numpy as np

from natjax.assignment.auction import AuctionResult, auction, solve_auction
from natjax.assignment.host import solve_scipy
from natjax.assignment.hungarian import solve_hungarian

Solver = Callable[[jax.Array], jax.Array]

METHODS: dict[str, Solver] = {
    "auction": solve_auction,
    "auction_xla": functools.partial(solve_auction, kernel="xla"),
    "auction_triton": functools.partial(solve_auction, kernel="triton"),
    "auction_mosaic_gpu": functools.partial(solve_auction, kernel="mosaic_gpu"),
    "auction_pallas_tpu": functools.partial(solve_auction, kernel="pallas_tpu"),
    "hungarian": solve_hungarian,
    "scipy": solve_scipy,
}

__all__ = ["METHODS", "AuctionResult", "auction", "solve"]


def solve(scores: jax.Array, method: str = "auction") -> jax.Array:
    """The score-maximising permutation of a square matrix: row `i` gets column `perm[i]`.

    Args:
      scores: float `[b, b]`, finite; NAT's are `z @ c.T`, features against targets.
      method: one of `METHODS`: "auction" (the default; exact, jittable, one Pallas launch on
        GPUs), "auction_xla", "auction_triton", "auction_mosaic_gpu", "auction_pallas_tpu",
        "hungarian" or "scipy" (a host reference).

    Returns:
      int32 `[b]`, the permutation maximising `sum_i scores[i, perm[i]]`. Jittable and
      vmappable; non-finite scores raise ValueError when `scores` is concrete, and under jit
      the auction returns the identity for them (see `auction`).

    >>> import numpy as np
    >>> scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.1], [0.0, 0.3, 0.7]], np.float32)
    >>> np.asarray(solve(scores)).tolist()
    [1, 0, 2]
    """
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square matrix, got shape {scores.shape}.")
    if method not in METHODS:
        raise ValueError(f"Unknown assignment method {method!r}; use one of {sorted(METHODS)}.")
    if not isinstance(scores, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(scores))):
        raise ValueError("scores contain NaN or infinite values; the assignment needs finite ones.")
    return METHODS[method](scores)

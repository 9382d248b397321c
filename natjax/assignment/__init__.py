"""Linear-assignment solvers behind one interface: `solve(scores, method) -> perm`.

`perm[i]` is the column given to row `i`; the permutation maximises `sum_i scores[i, perm[i]]`.
Every method is usable inside `jax.jit`; `scipy` goes to the host through a callback and is
meant for tests and as a CPU reference.
"""

from collections.abc import Callable

import jax

from natjax.assignment.host import solve_scipy
from natjax.assignment.hungarian import solve_hungarian

Solver = Callable[[jax.Array], jax.Array]

METHODS: dict[str, Solver] = {
    "hungarian": solve_hungarian,
    "scipy": solve_scipy,
}


def solve(scores: jax.Array, method: str = "hungarian") -> jax.Array:
    """The score-maximising permutation of a square float matrix `[b, b]`: int32 `[b]`."""
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square matrix, got shape {scores.shape}.")
    if method not in METHODS:
        raise ValueError(f"Unknown assignment method {method!r}; use one of {sorted(METHODS)}.")
    return METHODS[method](scores)

"""Assignment problems and their optimum, shared by the solver tests."""

import numpy as np
from scipy.optimize import linear_sum_assignment


def optimum(scores: np.ndarray) -> float:
    scores = scores.astype(np.float64)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    return float(scores[rows, cols].sum())


def total(scores: np.ndarray, perm) -> float:
    perm = np.asarray(perm)
    assert sorted(perm.tolist()) == list(range(len(scores))), "not a permutation"
    return float(scores.astype(np.float64)[np.arange(len(scores)), perm].sum())


def auction_gap_bound(scores: np.ndarray) -> float:
    """The auction's guarantee (auction.py): within b * range / L of the optimum."""
    b = len(scores)
    levels = (1 << 29) // (b + 1)
    return b * float(scores.max() - scores.min()) / levels


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def score_matrices(b: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(b, b))
    dup_rows = base.copy()
    dup_rows[1::2] = dup_rows[::2][: b // 2]
    return {
        "random": base,
        "low_rank": unit(rng.normal(size=(b, 16))) @ unit(rng.normal(size=(b, 16))).T,
        "integer": rng.integers(-5, 6, (b, b)).astype(float),
        "all_equal": np.full((b, b), 0.25),
        "duplicated_rows": dup_rows,
        "duplicated_cols": dup_rows.T.copy(),
        "huge_range": base * 1e6,
        "tiny_range": base * 1e-6 + 3.0,
    }


def nat_like(b: int, sigma: float, seed: int) -> np.ndarray:
    """NAT's scores at initialisation: features `normalize(u + sigma g_i)` around one shared
    direction `u` against random unit targets, d = 128 (nearly tied rows)."""
    rng = np.random.default_rng(seed)
    features = unit(unit(rng.normal(size=(1, 128))) + sigma * rng.normal(size=(b, 128)))
    return features @ unit(rng.normal(size=(b, 128))).T

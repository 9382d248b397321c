"""The arithmetic of the tables: mean, sample standard deviation and n over seeds, and whether
two rows' means differ by more than their spread allows (Welch's t-test, 95%, two-sided)."""

import dataclasses
import math
import statistics

# t(0.975, df) for df = 1..30 (two-sided 95%); above 30, 1.96 errs by under 5%.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Summary:
    mean: float
    std: float | None  # Sample std (n - 1); None for one value.
    n: int


def summarise(values: list[float]) -> Summary | None:
    """The values' mean, sample std and count; None for no values."""
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return Summary(statistics.fmean(values), std, len(values))


def t_critical(df: float) -> float:
    """Two-sided 95% critical value of Student's t, df rounded down (conservative)."""
    whole = max(1, math.floor(df))
    return _T975[whole - 1] if whole <= len(_T975) else 1.96


@dataclasses.dataclass(frozen=True)
class Difference:
    delta: float  # a.mean - b.mean
    se: float  # Its standard error, sqrt(s_a^2/n_a + s_b^2/n_b).
    supported: bool  # |delta| > t(0.975, Welch df) * se.


def difference(a: Summary, b: Summary) -> Difference | None:
    """Welch's test of a's mean against b's; None unless both have at least two values."""
    if a is None or b is None or a.n < 2 or b.n < 2:
        return None
    va, vb = a.std**2 / a.n, b.std**2 / b.n
    se = math.sqrt(va + vb)
    delta = a.mean - b.mean
    if se == 0:
        return Difference(delta, 0.0, delta != 0)
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1)) if va + vb else 1.0
    return Difference(delta, se, abs(delta) > t_critical(df) * se)

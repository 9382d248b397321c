"""`python -m natjax.bench assignment`: the batch re-assignment solvers, side by side.

For each score family (`scores.py`) and batch size b, every auction variant is timed (jit, on
the default device) with its rounds and microseconds per round, against scipy and lap's lapjv
on the host with the device -> host -> device round trip included (up to b = 4096), and
optax's Hungarian (jit, up to b = 1024). Every time is the median of alternating runs after
compilation. The gap is scipy's optimal total minus the variant's.

`--sweep` counts rounds only (they do not depend on the device) for the starting prices and
epsilon schedules that chose the auction's defaults, with the fused kernel's bidders (the GPU
case) and one bidder (the CPU case).
"""

import functools

import jax
import numpy as np

from natjax.assignment import auction, kernels, solve
from natjax.assignment.kernels import triton
from natjax.bench import scores as families
from natjax.bench.timing import load_config, median_seconds
from natjax.errors import UserError

HOST_MAX_B = 4096  # scipy and lapjv: seconds per solve beyond this.
HUNGARIAN_MAX_B = 1024  # Sequential O(b^3): minutes per solve beyond this.
CPU_SIZES = (256, 1024, 4096)
ACCELERATOR_SIZES = (256, 1024, 4096, 16384)
DEFAULT_FAMILIES = families.FAMILIES

# Auction variants: keyword arguments of `natjax.assignment.auction`.
VARIANTS = {
    "auction": {},  # This backend's default: the fused kernel on GPUs, else the XLA kernels.
    "xla": {"kernel": "xla"},
    "xla_check_every_round": {"kernel": "xla", "rounds_per_check": 1},
    "cold": {"warm_start": 0, "start": 256, "scaling": 16},  # The defaults before warm starts.
    **{f"triton_k{k}": {"kernel": "triton", "bidders": k} for k in (4, 8, 16, 32, 64)},
    "mosaic_gpu_k64": {"kernel": "mosaic_gpu"},  # Always 64 bidders: one warpgroup's tile.
    **{f"pallas_tpu_k{k}": {"kernel": "pallas_tpu", "bidders": k} for k in (8, 16, 32, 64)},
}
CPU_VARIANTS = ("auction", "cold")
ACCELERATOR_VARIANTS = ("auction", "xla", "xla_check_every_round", "cold")
SWEEP = {  # (warm-start iterations, start, scaling) -> label
    (0, 256, 16): "(0, 256, 16)",
    **{(w, 1024, 8): f"({w}, 1024, 8)" for w in (5, 10, 20)},
    (10, 1024, 4): "(10, 1024, 4)",
    (10, 1024, 16): "(10, 1024, 16)",
    (10, 256, 8): "(10, 256, 8)",
    (10, 4096, 8): "(10, 4096, 8)",
}


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


@functools.cache
def _auction_fn(variant: str):
    """The variant's jitted auction, one per variant: every family of a size shares its
    compilation."""
    return jax.jit(functools.partial(auction, **VARIANTS[variant]))


def _perm(variant: str, scores: jax.Array) -> jax.Array:
    return _auction_fn(variant)(scores).perm


def _solvers(b: int, variants) -> dict:
    fns = {name: functools.partial(_perm, name) for name in variants}
    if b <= HOST_MAX_B:
        fns["scipy_roundtrip"] = functools.partial(_host_roundtrip, _scipy)
        if (lapjv := _lapjv()) is not None:
            fns["lapjv_roundtrip"] = functools.partial(_host_roundtrip, lapjv)
    if b <= HUNGARIAN_MAX_B and jax.default_backend() == "cpu":
        fns["hungarian"] = jax.jit(lambda s: solve(s, "hungarian"))
    return fns


def bench_case(family: str, scores: np.ndarray, variants, repeats: int) -> dict:
    """Times, rounds and gaps of every solver on one score matrix."""
    b = len(scores)
    s32 = scores.astype(np.float32)
    device_scores = jax.block_until_ready(jax.device_put(s32))
    fns = _solvers(b, variants)
    times = median_seconds(
        {n: functools.partial(f, device_scores) for n, f in fns.items()}, repeats
    )
    s64 = s32.astype(np.float64)
    best = s64[np.arange(b), _scipy(s64)].sum() if b <= HOST_MAX_B else None
    row = {"family": family, "b": b, "seconds": times, "rounds": {}, "gap": {}, "converged": {}}
    for name in variants:
        result = _auction_fn(name)(device_scores)
        total = s64[np.arange(b), np.asarray(result.perm)].sum()
        row["rounds"][name] = int(result.rounds)
        row["converged"][name] = bool(result.converged)
        row["gap"][name] = None if best is None else float(best - total)
    row["us_per_round"] = {n: times[n] * 1e6 / max(row["rounds"][n], 1) for n in variants}
    if "scipy_roundtrip" in times:
        row["scipy_over_auction"] = times["scipy_roundtrip"] / times[variants[0]]
    return row


def _variants_for(b: int, variants) -> tuple[str, ...]:
    """The variants whose kernel takes a `[b, b]` problem; the others are named once, skipped."""

    def fits(name):
        kernel = VARIANTS[name].get("kernel", "xla")
        return kernel == "xla" or kernels.fits(kernel, b)

    skipped = [v for v in variants if not fits(v)]
    if skipped:
        print(f"# b={b}: {', '.join(skipped)} skipped (beyond their kernel's size)", flush=True)
    return tuple(v for v in variants if fits(v))


def _nat_source(name: str, preset: str, data_source: str | None, workdir: str | None):
    if name == "nat_trained":
        return families.trained_source(workdir, data_source)
    config = load_config(preset)
    if data_source:
        config.data.source = data_source
    return families.init_source(config)


def _matrices(names, sizes, preset, data_source, workdir):
    """(family, matrix) for every family and size; a NAT family whose data or run is missing
    is skipped with a printed reason."""
    for name in names:
        if name == "nat_trained" and not workdir:
            print("# nat_trained skipped: pass --workdir RUN (a trained run's directory).")
            continue
        if name.startswith("nat_"):
            try:
                make = _nat_source(name, preset, data_source, workdir).scores
            except (UserError, OSError) as error:
                print(f"# {name} skipped: {error}")
                continue
        else:
            make = families.SYNTHETIC[name]
        for b in sizes:
            yield name, make(b, seed=b)


def run(
    sizes=None,
    scores=DEFAULT_FAMILIES,
    variants=None,
    preset: str = "default",
    data_source: str | None = None,
    workdir: str | None = None,
    sweep: bool = False,
    report=None,
) -> list[dict]:
    """Every case's row (`sweep`: round counts only); `report(rows)` after each case."""
    cpu = jax.default_backend() == "cpu"
    sizes = sizes or (CPU_SIZES if cpu else ACCELERATOR_SIZES)
    variants = tuple(variants or (CPU_VARIANTS if cpu else ACCELERATOR_VARIANTS))
    rows = []
    for family, matrix in _matrices(scores, sizes, preset, data_source, workdir):
        if sweep:
            rows.extend(sweep_case(family, matrix))
        else:
            usable = _variants_for(len(matrix), variants)
            rows.append(bench_case(family, matrix, usable, 7 if len(matrix) <= 1024 else 3))
        print(f"# done: {family} b={len(matrix)}", flush=True)
        if report:
            report(rows)
    return rows


def sweep_case(family: str, scores: np.ndarray) -> list[dict]:
    """Rounds of every `SWEEP` setting, with the fused kernel's bidders and with one bidder."""
    b = len(scores)
    s = jax.device_put(scores.astype(np.float32))
    rows = []
    for bidders in (triton.default_bidders(b), 1):
        rounds = {}
        for (warm, start, scaling), label in SWEEP.items():
            kw = dict(kernel="xla", bidders=bidders, warm_start=warm, start=start, scaling=scaling)
            rounds[label] = int(jax.jit(functools.partial(auction, **kw))(s).rounds)
        rows.append({"family": family, "b": b, "bidders": bidders, "sweep_rounds": rounds})
    return rows


def format_table(rows: list[dict]) -> str:
    if rows and "sweep_rounds" in rows[0]:
        return _format_sweep(rows)
    variants = list(rows[0]["rounds"]) if rows else []
    others = sorted({n for r in rows for n in r["seconds"]} - set(variants))
    head = ["scores", "b", *[f"{v} ms (rounds, µs/round)" for v in variants]]
    head += [f"{n} ms" for n in others] + ["max gap", "scipy / auction"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        cells = [r["family"], str(r["b"])]
        for v in variants:
            ms, rounds, us = r["seconds"][v] * 1e3, r["rounds"][v], r["us_per_round"][v]
            cells.append(f"{ms:.2f} ({rounds:,}, {us:.1f})")
        cells += [f"{r['seconds'][n] * 1e3:.2f}" if n in r["seconds"] else "-" for n in others]
        gaps = [g for g in r["gap"].values() if g is not None]
        cells.append(f"{max(gaps):.2e}" if gaps else "not checked")
        ratio = r.get("scipy_over_auction")
        cells.append(f"{ratio:.2f}x" if ratio else "-")
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def _format_sweep(rows: list[dict]) -> str:
    settings = list(rows[0]["sweep_rounds"])
    head = ["scores", "b", "bidders", *settings]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        cells = [r["family"], str(r["b"]), str(r["bidders"])]
        lines.append(" | ".join(cells + [f"{r['sweep_rounds'][s]:,}" for s in settings]))
    for bidders in ("fused kernel's", "1"):
        group = [r for r in rows if (r["bidders"] == 1) == (bidders == "1")]
        totals = [f"{sum(r['sweep_rounds'][s] for r in group):,}" for s in settings]
        lines.append(" | ".join(["total", "", bidders, *totals]))
    return "\n".join(lines)

"""The paper's Figure 2: NAT's top-1 against the re-assignment period (never, every 1, 3 and
10 epochs, at the base config's length) and against the training length (5, 10, 20 and 40
epochs, re-assigning every 3), each point the mean ± sample std over seeds.

Every point is a variant of the base config with `nat.reassign_every` and `num_epochs` set,
named by them (`period3_epochs10`), so a point the two curves share trains once. Each trains
and is evaluated as an ablation's variant (`natjax.training.ablation.measure`): under
`WORKDIR/POINT/seedS/`, resumed when stopped, read back from its record under `record_dir`
where there is one. The points go to `WORKDIR/figure2.json` and the picture to
`WORKDIR/figure2.png`.
"""

import dataclasses
import json
import os
import statistics

import jax
from ml_collections import ConfigDict

from natjax.errors import UserError
from natjax.evaluation import figures
from natjax.training import ablation

PERIODS = (0, 1, 3, 10)  # Epochs between re-assignments; 0: never.
EPOCHS = (5, 10, 20, 40)
LENGTH_CURVE_PERIOD = 3  # The period of the training-length curve: the paper's best.
METRICS = ("linear_probe_top1", "knn_top1")


@dataclasses.dataclass(frozen=True)
class Point:
    curve: str  # "period" or "epochs": the curve's x axis.
    x: int
    variant: ablation.Variant


def point_variant(period: int, epochs: int) -> ablation.Variant:
    """The base config re-assigning every `period` epochs (0: never) for `epochs` epochs."""
    flat = {"nat.reassign_every": period, "num_epochs": epochs}
    every = "never" if period == 0 else f"every {period}"
    return ablation.Variant(
        f"period{period}_epochs{epochs}",
        f"re-assign {every}, {epochs} epochs",
        lambda c: c.update_from_flattened_dict(flat),
        tuple(flat),
    )


def points(base: ConfigDict, periods=PERIODS, epochs=EPOCHS) -> list[Point]:
    """Both curves' points, the period curve first."""
    if base.objective != "nat":
        raise UserError(
            f"Figure 2 varies NAT's re-assignment, but the config trains {base.objective!r}; "
            "drop --config.objective or set it to nat."
        )
    if any(p < 0 for p in periods) or any(e <= 0 for e in epochs):
        raise UserError(
            "the periods must be 0 (never) or positive and the epochs positive, e.g. "
            "--periods=0,1,3,10 --epochs=5,10,20,40."
        )
    by_period = [Point("period", p, point_variant(p, base.num_epochs)) for p in periods]
    by_length = [Point("epochs", e, point_variant(LENGTH_CURVE_PERIOD, e)) for e in epochs]
    return by_period + by_length


def summarise(point: Point, summaries: list[dict]) -> dict:
    """A point's row: its curve, x, variant, n, and each metric's mean and sample std."""
    row = {"curve": point.curve, "x": point.x, "variant": point.variant.name, "n": len(summaries)}
    for key in METRICS:
        values = [s[key] for s in summaries]
        row[key] = statistics.fmean(values)
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
    return row


def figure2(
    base: ConfigDict,
    workdir: str,
    seeds: list[int],
    user_keys=(),
    record_dir: str | None = None,
    periods=PERIODS,
    epochs=EPOCHS,
) -> list[dict]:
    """Measures every point of both curves once per seed, then writes and returns the rows
    (`summarise`) and draws `WORKDIR/figure2.png`."""
    chosen = points(base, periods, epochs)
    unique = {p.variant.name: p.variant for p in chosen}
    measured: dict[str, list[dict]] = {name: [] for name in unique}
    for seed in seeds:
        config = ablation.seeded(base, seed)
        for name, variant in unique.items():
            directory = os.path.join(workdir, name, f"seed{seed}")
            measured[name].append(
                ablation.measure(config, variant, directory, user_keys, record_dir)
            )
    rows = [summarise(p, measured[p.variant.name]) for p in chosen]
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "figure2.json"), "w") as f:
            json.dump(rows, f, indent=2)
        figures.figure2(os.path.join(workdir, "figure2.png"), rows, METRICS)
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (top-1 in %, mean ± std)."""
    lines = ["| curve | x | linear probe | kNN | n |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = [
            f"{100 * r[k]:.2f}" + ("" if r[f"{k}_std"] is None else f" ± {100 * r[f'{k}_std']:.2f}")
            for k in METRICS
        ]
        x = "never" if r["curve"] == "period" and r["x"] == 0 else str(r["x"])
        lines.append(f"| {r['curve']} | {x} | {' | '.join(cells)} | {r['n']} |")
    return "\n".join(lines)

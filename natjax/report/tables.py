"""A generated table: its columns, its rows (each a glob of records under the store and the
figure it reads from them), and how it renders, figures first, provenance in a footnote."""

import dataclasses
import fnmatch
from collections.abc import Callable

from natjax.records import Record
from natjax.report import stats

UNITS = {  # How a figure is shown: (scale, format of the mean and std).
    "pct": (100.0, ".2f"),  # Top-1 as a fraction, shown in %.
    "loss": (1.0, ".3f"),
    "rate": (1.0, ",.0f"),
    "ms": (1e3, ".2f"),  # Seconds, shown in ms.
    "x": (1.0, ".3f"),  # A ratio.
}


@dataclasses.dataclass(frozen=True)
class Column:
    label: str
    key: str | None = None  # The records' figure, unless a row names its own.
    unit: str = "pct"
    spread: bool = True  # Show ± std (speeds are shown as a mean: they follow the machine's load).


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    pattern: str  # Records under the store's root, e.g. "fashion_mnist/nat/seed*.json".
    keys: tuple[str | None, ...] = ()  # One per column, in place of the column's; None: not read.


@dataclasses.dataclass(frozen=True)
class Table:
    name: str  # Its marker: <!-- natjax.report NAME -->.
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    first: str = "features"  # The first column's heading.
    reference: str | None = None  # A row's label: the others' means are tested against it.
    compare: tuple[str, ...] = ()  # The columns' labels tested.
    legend: str = "Mean ± sample std over the n records."

    def patterns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.pattern for r in self.rows))

    def render(self, records: list[Record]) -> str:
        return render(self, records)


@dataclasses.dataclass(frozen=True)
class BenchTable:
    """A benchmark's own table (`natjax.bench.NAME.format_table`) of its recorded cases."""

    name: str
    format_table: Callable[[list[dict]], str]
    pattern: str  # e.g. "bench/cpu/assignment/*.json": one record per case, in order.

    def render(self, records: list[Record]) -> str:
        used = matching(records, self.pattern)
        if not used:
            return footnote(used)
        note = footnote(used, "One record per case.")
        return "\n".join([self.format_table([r.results for r in used]), "", note])


def matching(records: list[Record], pattern: str) -> list[Record]:
    return [r for r in records if fnmatch.fnmatchcase(r.path, pattern)]


def _key(row: Row, i: int, column: Column) -> str | None:
    return row.keys[i] if row.keys else column.key


def _values(found: list[Record], key: str | None) -> list[float]:
    if key is None:
        return []
    return [r.results[key] for r in found if r.results.get(key) is not None]


def format_summary(s: stats.Summary | None, unit: str, spread: bool = True) -> str:
    if s is None:
        return "—"
    scale, fmt = UNITS[unit]
    mean = format(scale * s.mean, fmt)
    return mean if s.std is None or not spread else f"{mean} ± {format(scale * s.std, fmt)}"


def format_difference(d: stats.Difference | None, unit: str) -> str:
    if d is None:
        return "—"
    scale, fmt = UNITS[unit]
    cell = f"{format(scale * d.delta, '+' + fmt)} ± {format(scale * d.se, fmt)}"
    return f"**{cell}**" if d.supported else cell


def summaries(table: Table, records: list[Record]) -> dict[str, list]:
    """Each row's summaries, one per column, and its n (the records it read)."""
    out = {}
    for row in table.rows:
        found = matching(records, row.pattern)
        cells = [
            stats.summarise(_values(found, _key(row, i, c))) for i, c in enumerate(table.columns)
        ]
        out[row.label] = [cells, len(found)]
    return out


def _markdown(head: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in body]


def render(table: Table, records: list[Record]) -> str:
    """The table in Markdown, then its footnote."""
    rows = summaries(table, records)
    units = {c.label: c for c in table.columns}
    head = [table.first, *(c.label for c in table.columns), "n"]
    head += [f"Δ {label}" for label in table.compare]
    body = []
    for row in table.rows:
        cells, n = rows[row.label]
        line = [
            row.label,
            *(
                format_summary(s, c.unit, c.spread)
                for s, c in zip(cells, table.columns, strict=True)
            ),
        ]
        line.append(str(n))
        for label in table.compare:
            i = [c.label for c in table.columns].index(label)
            ref = rows[table.reference][0][i]
            d = None if row.label == table.reference else stats.difference(cells[i], ref)
            line.append(format_difference(d, units[label].unit))
        body.append(line)
    used = [r for p in table.patterns() for r in matching(records, p)]
    legend = table.legend
    if table.compare:
        legend += (
            f" Δ: the difference from the {table.reference} row, ± its standard error, bold"
            " where Welch's t-test at 95% supports it."
        )
    note = footnote(used, legend)
    return "\n".join([*_markdown(head, body), "", note])


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _join(items) -> str:
    return ", ".join(dict.fromkeys(items))


def _machine(m: dict) -> str:
    if m["platform"] != "cpu":
        return f"{m['devices']} × {m['device']}"
    return f"{m['cpu']}, {m['cores']} cores"


def _busy(machines: list[dict]) -> str:
    """How many records ran beside other work: a CPU load average above the cores at the end."""
    loads = [
        m["load_average"]
        for m in machines
        if m["platform"] == "cpu"
        and m.get("load_average") is not None
        and m["load_average"] > m["cores"] + 0.5
    ]
    if not loads:
        return ""
    return (
        f" ({len(loads)} of {len(machines)} records beside other work: load average up to "
        f"{max(loads):.1f} at the end)"
    )


def footnote(used: list[Record], legend: str = "") -> str:
    """Where the figures come from: the records' commands, code, machines, versions and dates."""
    if not used:
        return "*No records yet.*"
    p = [r.provenance for r in used]
    parts = [legend] if legend else []
    parts.append("Commands: " + _join(f"`{q['command']}`" for q in p) + ".")
    commits = _join(
        f"{q['commit'][:7]}{' (dirty)' if q.get('dirty') else ''}" if q.get("commit") else "?"
        for q in p
    )
    parts.append(f"Code: {commits}.")
    machines = _join(_machine(q["machine"]) for q in p) + _busy([q["machine"] for q in p])
    names = {"python": "Python", "jax": "jax", "flax": "flax"}
    versions = _join(
        ", ".join(f"{names[k]} {v[k]}" for k in names if v.get(k))
        for v in (q["versions"] for q in p)
    )
    dates = sorted(q["date"][:10] for q in p)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    parts.append(f"Machine: {machines}; {versions}; measured {when}.")
    walls = [q["wall_seconds"] for q in p if q.get("wall_seconds") is not None]
    if walls:
        low, high = _minutes(min(walls)), _minutes(max(walls))
        parts.append(f"Wall time per record: {low}" + ("" if low == high else f" to {high}") + ".")
    sources = _join(q["transcribed_from"] for q in p if q.get("transcribed_from"))
    if sources:
        parts.append(f"Transcribed from {sources}; the raw output was not kept.")
    folders = _join(f"`results/{r.path.rsplit('/', 1)[0]}/`" for r in used)
    parts.append(f"Records: {folders}.")
    return "*" + " ".join(parts) + "*"

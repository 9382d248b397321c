"""`python -m natjax.bench.summary OUT/*.json`: one short table of benchmark JSON files (the
assignment and step benchmarks'), with the issue's goals next to the figures.

The re-assignment's cost on NAT's default schedule (every 3rd epoch) comes from the step
benchmark's two NAT variants: one step in three pays the difference.
"""

import json
import sys

REASSIGN_FRACTION = 1 / 3  # configs/nat.py: nat.reassign_every = 3 epochs.


def _ms(seconds: dict, name: str) -> str:
    return f"{seconds[name] * 1e3:.2f}" if name in seconds else "-"


def _assignment_lines(rows: list[dict]) -> list[str]:
    head = "scores | b | auction ms (rounds) | xla | every-round check | cold | one launch"
    lines = [head + " | scipy"]
    for r in rows:
        t = r["seconds"]
        launches = [n for n in r["rounds"] if n.rpartition("_k")[2].isdigit()]  # triton_k16, ...
        by_bidders = " ".join(f"{n}={t[n] * 1e3:.2f}" for n in launches) or "-"
        lines.append(
            f"{r['family']} | {r['b']} | {_ms(t, 'auction')} ({r['rounds'].get('auction', 0):,})"
            f" | {_ms(t, 'xla')} | {_ms(t, 'xla_check_every_round')} | {_ms(t, 'cold')} | "
            f"{by_bidders} | {_ms(t, 'scipy_roundtrip')}"
        )
    return lines


def default_schedule_ratio(row: dict) -> float:
    """img/s of NAT re-assigning one step in three, over the supervised step's."""
    ips = row["images_per_second"]
    no, every = 1 / ips["nat_no_reassign"], 1 / ips["nat_reassign"]
    return (1 / (no + REASSIGN_FRACTION * (every - no))) / ips["supervised"]


def _step_lines(rows: list[dict]) -> list[str]:
    lines = ["encoder | dtype | supervised img/s | NAT every step / sup. (goal 0.90)"]
    lines[0] += " | default schedule / sup. (goal 0.97) | re-assignment alone"
    for r in rows:
        if "error" in r:
            lines.append(f"{r['encoder']} | {r['dtype']} | {r['error']}")
            continue
        lines.append(
            f"{r['encoder']} | {r['dtype']} | {r['images_per_second']['supervised']:,.0f} | "
            f"{r['nat_vs_supervised']:.3f} | {default_schedule_ratio(r):.3f} | "
            f"{r['reassign_alone_ms']:.2f} ms"
        )
    return lines


def _input_lines(rows: list[dict]) -> list[str]:
    lines = ["dataset | encoder | pipeline img/s | step img/s | loop / step"]
    for r in rows:
        ips = r["images_per_second"]
        lines.append(
            f"{r['dataset']} | {r['encoder']} | {ips['pipeline']:,.0f} | {ips['step']:,.0f} | "
            f"{r['loop_vs_step']:.3f}"
        )
    return lines


def _decode_lines(rows: list[dict]) -> list[str]:
    """Records from before grain's rows were threads only, and say no pipeline."""
    lines = ["pipeline | workers | cores | images/s"]
    lines += [
        f"{r.get('pipeline', 'threads')} | {r['workers']} | {r['cores']} | "
        f"{r['images_per_second']:,.0f}"
        for r in rows
    ]
    return lines


def summarize(paths: list[str]) -> str:
    lines = []
    for path in paths:
        with open(path) as f:
            result = json.load(f)
        lines.append(f"# {path}: {result['machine']}")
        if result["benchmark"] == "assignment":
            lines += _assignment_lines(result["rows"])
        elif result["benchmark"] == "step":
            lines += _step_lines(result["rows"])
        elif result["benchmark"] == "input":
            lines += _input_lines(result["rows"])
        elif result["benchmark"] == "decode":
            lines += _decode_lines(result["rows"])
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1:]))

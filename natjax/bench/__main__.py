"""`python -m natjax.bench NAME [--json OUT] [--only A,B]`."""

import argparse
import json

from natjax.bench import assignment, step
from natjax.bench.timing import machine

BENCHMARKS = {"assignment": assignment, "step": step}


def _subset(only: str, name: str) -> tuple:
    items = only.split(",")
    return tuple(int(i) for i in items) if name == "assignment" else tuple(items)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m natjax.bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    parser.add_argument(
        "--only",
        help="Comma-separated subset: sizes (assignment) or encoders "
        "(step); default: all of the benchmark's own.",
    )
    args = parser.parse_args()
    bench = BENCHMARKS[args.name]
    rows = bench.run(_subset(args.only, args.name)) if args.only else bench.run()
    print(f"# natjax.bench {args.name} on {machine()}")
    print(bench.format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "benchmark": args.name, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

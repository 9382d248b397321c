"""`python -m natjax.bench NAME [--json OUT] [--sizes 64,256]`."""

import argparse
import json

from natjax.bench import assignment
from natjax.bench.timing import machine

BENCHMARKS = {"assignment": assignment}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m natjax.bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    parser.add_argument("--sizes", help="Comma-separated sizes (default: the benchmark's own).")
    args = parser.parse_args()
    bench = BENCHMARKS[args.name]
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None
    rows = bench.run(sizes) if sizes else bench.run()
    print(f"# natjax.bench {args.name} on {machine()}")
    print(bench.format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "benchmark": args.name, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

"""`python -m natjax.bench NAME [--json OUT] [--only A,B]`: the benchmarks, each a module of
`natjax.bench` with `run(...) -> rows` and `format_table(rows)`."""

import argparse
import functools
import glob
import json
import os
import re
import time

from natjax import records
from natjax.bench import (
    assignment,
    decode,
    input_pipeline,
    kernel,
    probes,
    rounds,
    scaling,
    step,
)
from natjax.bench.timing import machine
from natjax.evaluation.scores import CLASSIFIERS

BENCHMARKS = {
    "assignment": assignment,
    "decode": decode,
    "input": input_pipeline,
    "kernel": kernel,
    "probes": probes,
    "rounds": rounds,
    "scaling": scaling,
    "step": step,
}


def _simulate_cpu_devices(n: int) -> None:
    """Before JAX starts: `n` host devices, so the CPU backend can be split (accelerators are
    unaffected)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


_ARGUMENT = {
    "assignment": "sizes",
    "decode": "workers",
    "input": "presets",
    "kernel": "sizes",
    "probes": "protocols",
    "rounds": "sizes",
    "scaling": "batches",
    "step": "encoders",
}


def _subset(only: str, name: str) -> tuple:
    items = only.split(",")
    return tuple(items) if name in ("step", "input", "probes") else tuple(int(i) for i in items)


def _objectives(names: str, parser: argparse.ArgumentParser) -> tuple[str, ...]:
    chosen = tuple(names.split(","))
    unknown = sorted(set(chosen) - set(step.OBJECTIVES))
    if unknown:
        parser.error(
            f"unknown --objectives {', '.join(unknown)}; use any of {', '.join(step.OBJECTIVES)}."
        )
    return chosen


def _check_protocols(chosen: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    unknown = sorted(set(chosen) - set(CLASSIFIERS))
    if unknown:
        parser.error(f"unknown --only {', '.join(unknown)}; use any of {', '.join(CLASSIFIERS)}.")


def _assignment_kwargs(args) -> dict:
    unknown = set(args.scores.split(",")) - set(assignment.DEFAULT_FAMILIES)
    unknown |= set((args.variants or "auction").split(",")) - set(assignment.VARIANTS)
    if unknown:
        raise SystemExit(f"Unknown score family or variant: {', '.join(sorted(unknown))}.")
    return {
        "scores": tuple(args.scores.split(",")),
        "variants": tuple(args.variants.split(",")) if args.variants else None,
        "preset": args.preset or "default",
        "data_source": args.data,
        "workdir": args.workdir,
        "sweep": args.sweep,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m natjax.bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--json", help="Also write the results to this JSON file.")
    parser.add_argument(
        "--record",
        metavar="DIR",
        help="Also write each case as a results record, DIR/NN-CASE.json, with its provenance "
        "(see `python -m natjax.report`).",
    )
    parser.add_argument(
        "--only",
        help="Comma-separated subset: sizes (assignment, kernel, rounds), encoders (step), presets "
        "(input), worker counts (decode: threads and grain processes), global batches "
        "(scaling) or protocols (probes: linear, mlp, knn); default: all of the benchmark's "
        "own (probes: linear).",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="step only: the encoder's compute dtype (model.dtype).",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=20,
        help="step only: timed steps of each variant (the median is reported).",
    )
    parser.add_argument(
        "--batch",
        help="step only: comma-separated batch sizes for every encoder (default: 256 on a "
        "CPU; on an accelerator 256 and 1024 for AlexNet, 256 for ResNet-50).",
    )
    parser.add_argument(
        "--objectives",
        help=f"step only: the objectives timed beside NAT's steps, of {', '.join(step.OBJECTIVES)} "
        "(default: all; the supervised step always runs, the ratios' base).",
    )
    parser.add_argument(
        "--scores",
        default=",".join(assignment.DEFAULT_FAMILIES),
        help=f"assignment only: score families, of {', '.join(assignment.DEFAULT_FAMILIES)}.",
    )
    parser.add_argument(
        "--variants",
        help=f"assignment only: auction variants, of {', '.join(assignment.VARIANTS)} "
        "(default: this backend's).",
    )
    parser.add_argument(
        "--preset",
        help="assignment and rounds: the encoder and data of nat_init (default: default); "
        "probes: the encoder and data (default: cifar10_cpu).",
    )
    parser.add_argument(
        "--data",
        help="assignment: the NAT families' data.source (e.g. idx:DIR); input and probes: the "
        "presets'.",
    )
    parser.add_argument(
        "--workdir", help="assignment only: a trained run, for the nat_trained scores."
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="assignment only: count rounds of the starting prices and epsilon schedules.",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="step only: also write a jax.profiler trace of each case under DIR.",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    if args.record and os.path.exists(args.record) and not os.path.isdir(args.record):
        parser.error(f"--record={args.record} must be a directory.")
    if args.name == "scaling":
        _simulate_cpu_devices(scaling.SIMULATED_DEVICES)
    bench = BENCHMARKS[args.name]
    kwargs = {}
    if args.name == "step":
        kwargs = {"dtype": args.dtype, "profile_dir": args.profile, "repeats": args.repeats}
        if args.batch:
            kwargs["batches"] = tuple(int(b) for b in args.batch.split(","))
        if args.objectives:
            kwargs["names"] = _objectives(args.objectives, parser)
    if args.name == "assignment":
        kwargs = _assignment_kwargs(args)
    if args.name in ("input", "probes") and args.data:
        kwargs["data_source"] = args.data
    if args.name in ("probes", "rounds") and args.preset:
        kwargs["preset"] = args.preset
    if args.json and args.name in ("assignment", "step"):
        # Written after every case, so a run stopped early keeps what it has.
        kwargs["report"] = functools.partial(_write_json, args.json, args.name)
    if args.only:
        kwargs[_ARGUMENT[args.name]] = _subset(args.only, args.name)
    if args.name == "probes" and args.only:
        _check_protocols(kwargs["protocols"], parser)
    rows = bench.run(**kwargs)
    print(f"# natjax.bench {args.name} on {machine()}")
    print(bench.format_table(rows))
    if args.json:
        _write_json(args.json, args.name, rows)
    if args.record:
        _record(args.record, args.name, rows, time.perf_counter() - start)


def case_name(i: int, row: dict) -> str:
    """`NN-WORDS`: the case's index, then its identifying strings and integers, for a file."""
    words = [str(v) for v in row.values() if isinstance(v, (str, int)) and not isinstance(v, bool)]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(words[:4]))[:60]
    return f"{i:02d}-{slug}" if slug else f"{i:02d}"


def _record(directory: str, name: str, rows: list[dict], seconds: float) -> None:
    """One record per case, each with the whole command's wall time; the cases an earlier run
    recorded in `directory` are replaced."""
    for old in glob.glob(os.path.join(directory, "[0-9][0-9]-*.json")):
        os.remove(old)
    for i, row in enumerate(rows):
        path = os.path.join(directory, case_name(i, row) + ".json")
        records.save(path, "bench", name, row, wall_seconds=seconds)
    print(f"Recorded {len(rows)} cases in {directory}")


def _write_json(path: str, name: str, rows: list[dict]) -> None:
    with open(path, "w") as f:
        json.dump({"machine": machine(), "benchmark": name, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

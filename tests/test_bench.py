"""The benchmarks run and report what they claim (their timings are not checked here)."""

import json
import subprocess
import sys

from conftest import ROOT
from natjax.bench import assignment, scaling, step


def test_assignment_bench_reports_every_solver_and_an_exact_auction():
    row = assignment.bench_size(16, repeats=1)
    assert {"auction", "hungarian", "scipy_roundtrip"} <= row["seconds"].keys()
    assert row["auction_converged"] and abs(row["auction_gap"]) < 1e-5
    assert all(t > 0 for t in row["seconds"].values())
    assert "16 |" in assignment.format_table([row])


def test_step_bench_compares_the_three_steps_on_one_batch():
    row = step.bench_case("small_convnet", 28, 1, 16, repeats=1)
    assert row["images_per_second"].keys() == {"nat_reassign", "nat_no_reassign", "supervised"}
    assert all(v > 0 for v in row["images_per_second"].values())
    assert "small_convnet | float32 | 28 | 16" in step.format_table([row])


def test_bench_cli_writes_json(tmp_path):
    out = tmp_path / "a.json"
    cmd = [sys.executable, "-m", "natjax.bench", "assignment", "--only", "8", "--json", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["benchmark"] == "assignment" and report["rows"][0]["b"] == 8


def test_scaling_bench_times_the_global_and_local_assignment():
    row = scaling.bench_case(1, 16, repeats=1)
    assert row["images_per_second"].keys() == {"none", "global", "local"}
    assert all(0 < s < 10 for s in row["assignment_share"].values())
    assert "small_convnet | 1 | 16" in scaling.format_table([row])


def test_input_bench_times_pipeline_step_and_loop_on_one_run(tmp_path):
    from conftest import tiny_config
    from natjax.bench import input_pipeline

    row = input_pipeline.bench_config(tiny_config(str(tmp_path)), steps=2, rounds=1)
    assert row["images_per_second"].keys() == {"pipeline", "step", "loop"}
    assert all(v > 0 for v in row["images_per_second"].values())
    assert "fashion_mnist | small_convnet | 16 |" in input_pipeline.format_table([row])

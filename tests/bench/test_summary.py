"""The benchmarks' summary (`natjax.bench.summary`): the tables of recorded JSON reports."""

import json

from natjax.bench import summary


def test_summary_states_the_default_schedule_ratio():
    row = {
        "images_per_second": {"supervised": 100.0, "nat_no_reassign": 100.0, "nat_reassign": 50.0}
    }
    # One step in three takes twice as long: 3 steps in 4 time units, 0.75 of supervised.
    assert abs(summary.default_schedule_ratio(row) - 0.75) < 1e-12


def test_summary_tabulates_the_input_and_decode_benchmarks(tmp_path):
    row = {
        "dataset": "cifar10",
        "encoder": "resnet18",
        "images_per_second": {"pipeline": 60000.0, "step": 40000.0, "loop": 39000.0},
        "loop_vs_step": 0.975,
    }
    path = tmp_path / "bench-input.json"
    path.write_text(json.dumps({"machine": "gpu: H100 x1", "benchmark": "input", "rows": [row]}))
    assert "cifar10 | resnet18 | 60,000 | 40,000 | 0.975" in summary.summarize([str(path)])
    old = {"workers": 4, "cores": 16, "images_per_second": 9000.0}
    grain = {**old, "pipeline": "grain processes", "images_per_second": 9500.0}
    path.write_text(json.dumps({"machine": "gpu", "benchmark": "decode", "rows": [old, grain]}))
    table = summary.summarize([str(path)])
    assert "threads | 4 | 16 | 9,000" in table and "grain processes | 4 | 16 | 9,500" in table

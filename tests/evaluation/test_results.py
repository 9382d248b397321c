"""A run's results (`natjax.evaluation.results`): JSON under the workdir, and a table."""

import json

from natjax.evaluation import format_results, write_results


def test_results_are_written_under_eval_by_step(tmp_path):
    path = write_results(str(tmp_path), 12, {"knn_top1": 0.5})
    assert path == str(tmp_path / "eval" / "step_12.json")
    assert json.loads((tmp_path / "eval" / "step_12.json").read_text()) == {
        "step": 12,
        "knn_top1": 0.5,
    }


def test_the_table_aligns_the_keys_and_rounds_floats_to_four_decimals():
    text = format_results("NAT results", {"knn_top1": 0.123456, "steps": 12, "ok": True})
    assert text.splitlines() == [
        "NAT results",
        "knn_top1  0.1235",
        "steps     12",
        "ok        True",
    ]

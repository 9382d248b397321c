"""`python -m natjax.bench` (`natjax.bench.__main__`): the benchmarks as commands, their JSON
reports and their argument mistakes."""

import json
import subprocess
import sys

import pytest

from natjax import records
from natjax.bench import __main__ as bench_main
from natjax.bench import assignment
from tests.helpers import ROOT

ASSIGNMENT = [
    "assignment",
    "--only",
    "8",
    "--scores",
    "random,constant",
    "--variants",
    "auction,xla",
]


def _check_assignment_report(path):
    report = json.loads(path.read_text())
    assert report["benchmark"] == "assignment" and report["rows"][0]["b"] == 8
    assert [r["family"] for r in report["rows"]] == ["random", "constant"]
    assert set(report["rows"][0]["rounds"]) == {"auction", "xla"}


def test_the_assignment_bench_writes_its_json_report(tmp_path, monkeypatch, capsys):
    out = tmp_path / "a.json"
    monkeypatch.setattr(sys, "argv", ["natjax.bench", *ASSIGNMENT, "--json", str(out)])
    bench_main.main()
    _check_assignment_report(out)
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["# done: random b=8", "# done: constant b=8"]
    assert out[2].startswith("# natjax.bench assignment on ") and out[5].startswith("random | 8 |")


def test_each_case_becomes_a_record_that_renders_the_benchmarks_table(
    tmp_path, monkeypatch, capsys
):
    directory = tmp_path / "rec"
    directory.mkdir()
    (directory / "07-stale.json").write_text("{}")  # An earlier run's case: replaced.
    monkeypatch.setattr(sys, "argv", ["natjax.bench", *ASSIGNMENT, "--record", str(directory)])
    bench_main.main()
    printed = capsys.readouterr().out
    found = records.load_records(str(directory))
    assert [r.path for r in found] == ["00-random-8.json", "01-constant-8.json"]
    assert all(r.kind == "bench" and r.name == "assignment" for r in found)
    assert found[0].provenance["command"].startswith("python ")
    table = assignment.format_table([r.results for r in found])
    assert table in printed  # The same table, from the records.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["assignment", "--scores", "magic"], "Unknown score family or variant: magic"),
        (["step", "--objectives", "simclr,magic"], "unknown --objectives magic; use any of"),
        (["sort"], "invalid choice: 'sort'"),
        (["probes", "--only", "linear,svm"], "unknown --only svm; use any of"),
    ],
)
def test_a_bad_argument_is_one_sentence(monkeypatch, capsys, args, message):
    monkeypatch.setattr(sys, "argv", ["natjax.bench", *args])
    with pytest.raises(SystemExit) as stopped:
        bench_main.main()
    assert message in str(stopped.value) or message in capsys.readouterr().err
    assert stopped.value.code != 0


def test_only_picks_sizes_or_names():
    assert bench_main._subset("8,16", "assignment") == (8, 16)
    assert bench_main._subset("small_convnet", "step") == ("small_convnet",)


@pytest.mark.slow
def test_bench_cli_writes_json(tmp_path):
    out = tmp_path / "a.json"
    cmd = [sys.executable, "-m", "natjax.bench", *ASSIGNMENT, "--json", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    _check_assignment_report(out)
    bad = subprocess.run(cmd[:-4] + ["--scores", "magic"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "Unknown score family or variant: magic" in bad.stderr


@pytest.mark.slow
def test_step_bench_cli_reports_each_case_as_it_goes(tmp_path):
    out = tmp_path / "step.json"
    cmd = [sys.executable, "-m", "natjax.bench", "step", "--only", "small_convnet"]
    cmd += ["--batch", "8", "--repeats", "1", "--json", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert row["batch"] == 8 and row["forward_gflops_per_image"] > 0
    assert row["compile_seconds"]["nat_reassign"] > 0
    assert "compiled nat_reassign in" in result.stderr
    assert "small_convnet | float32 | 28 | 8 |" in result.stderr  # The row, when done.


@pytest.mark.slow
def test_the_step_bench_command_names_an_unknown_objective():
    cmd = [sys.executable, "-m", "natjax.bench", "step", "--objectives", "simclr,magic"]
    bad = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown --objectives magic; use any of" in bad.stderr

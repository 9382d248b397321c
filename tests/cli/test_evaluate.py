"""`python -m natjax.evaluate` (`natjax.cli.evaluate`): a saved checkpoint under the protocols
asked for, its table printed and its results written; a bad protocol in one sentence."""

import json
import subprocess
import sys

import pytest

from natjax import records
from tests.helpers import ROOT, copy_run


def test_the_command_evaluates_one_protocol_of_an_earlier_step(command, capsys, tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    module = command("evaluate", f"--workdir={copy}", "--checkpoint=8", "--protocol=knn")
    module.main([])
    out = capsys.readouterr().out
    assert out.startswith(f"NAT evaluation of {copy}, step 8\n") and "knn_top1" in out
    written = json.loads((tmp_path / "copy" / "eval" / "step_8.json").read_text())
    assert "linear_probe_top1" not in written and "knn_top1" in written


def test_record_writes_the_evaluation_with_the_runs_seed(command, capsys, tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    path = tmp_path / "r" / "eval.json"
    module = command("evaluate", f"--workdir={copy}", "--protocol=knn", f"--record={path}")
    module.main([])
    (record,) = records.load_records(str(tmp_path / "r"))
    written = json.loads((tmp_path / "copy" / "eval" / "step_12.json").read_text())
    assert record.kind == "evaluate" and record.results["knn_top1"] == written["knn_top1"]
    assert record.results["step"] == 12 and record.seed == tiny_run.config.seed


def test_an_unknown_protocol_is_one_sentence(command, capsys, tiny_run):
    module = command("evaluate", f"--workdir={tiny_run.workdir}", "--protocol=magic")
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("natjax.evaluate: error: unknown --protocol magic; use any of")


@pytest.mark.slow
def test_the_cli_evaluates_one_protocol_of_an_earlier_step(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    cmd = [sys.executable, "-m", "natjax.evaluate", f"--workdir={copy}", "--checkpoint=8"]
    out = subprocess.run(
        [*cmd, "--protocol=knn"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "step 8" in out.stdout and "knn_top1" in out.stdout
    written = json.loads((tmp_path / "copy" / "eval" / "step_8.json").read_text())
    assert "linear_probe_top1" not in written
    bad = subprocess.run(
        [*cmd, "--protocol=magic"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and "unknown --protocol magic" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "fractions, says",
    [("2", "label fractions 2 are not shares"), ("a,b", "--label_fractions=a,b is not a list")],
)
def test_bad_label_fractions_are_one_sentence(command, capsys, tiny_run, fractions, says):
    args = (
        f"--workdir={tiny_run.workdir}",
        "--protocol=finetune",
        f"--label_fractions={fractions}",
    )
    module = command("evaluate", *args)
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("natjax.evaluate: error: ") and says in err


def test_finetune_of_a_missing_checkpoint_is_one_sentence(command, capsys, tiny_run):
    args = (f"--workdir={tiny_run.workdir}", "--protocol=finetune", "--checkpoint=999")
    module = command("evaluate", *args)
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "999" in err


def test_transfer_names_the_other_dataset_and_writes_beside_the_runs_figures(
    command, capsys, tiny_run, tmp_path
):
    from tests.data.folders import make_folder

    copy, _ = copy_run(tiny_run, tmp_path)
    colours = make_folder(tmp_path / "colours")
    module = command(
        "evaluate",
        f"--workdir={copy}",
        "--protocol=knn",
        "--transfer=configs/nat.py:smoke",
        "--transfer.data.name=colours",
        f"--transfer.data.source=folder:{colours}",
        "--transfer.data.image_size=6",
        "--transfer.data.max_train_examples=0",
        "--transfer.data.max_test_examples=0",
    )
    module.main([])
    out = capsys.readouterr().out
    assert out.startswith(f"NAT evaluation of {copy}, step 12 on colours\n")
    written = json.loads((tmp_path / "copy" / "eval" / "step_12_on_colours.json").read_text())
    assert written["transfer_dataset"] == "colours" and 0.0 <= written["knn_top1"] <= 1.0

"""`python -m natjax.main` (`natjax.cli.train`): the :smoke preset on real Fashion-MNIST as a
user runs it, the objective's recipe for the keys the user did not set, and mistakes told in
one sentence."""

import json
import os
import subprocess
import sys

import pytest

from natjax import records
from natjax.data.idx import DEBIAN_FASHION_MNIST_DIR
from tests.helpers import ROOT

SMOKE = f"--config={os.path.join(ROOT, 'configs', 'nat.py')}:smoke"


def run_main(*args, workdir):
    cmd = [sys.executable, "-m", "natjax.main", f"--workdir={workdir}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _trained_with(command, monkeypatch, *args):
    """The config `python -m natjax.main ARGS` trains (its training replaced by a record)."""
    module = command("train", SMOKE, "--workdir=/nonexistent", *args)
    trained = []
    monkeypatch.setattr(module, "train_and_evaluate", lambda c, w, a: trained.append((c, w)))
    module.main([])
    ((config, workdir),) = trained
    assert workdir == "/nonexistent"
    return config


def test_the_command_applies_the_objectives_recipe_except_the_keys_set(command, monkeypatch):
    config = _trained_with(command, monkeypatch, "--config.objective=supervised")
    assert config.objective == "supervised" and config.optim.learning_rate == 0.01
    from natjax.cli import flags as cli_flags

    assert cli_flags.user_keys() == ("objective",)


def test_a_learning_rate_set_on_the_command_line_is_kept(command, monkeypatch):
    args = ("--config.objective=rotation", "--config.optim.learning_rate=0.2")
    assert _trained_with(command, monkeypatch, *args).optim.learning_rate == 0.2
    assert _trained_with(command, monkeypatch).optim.learning_rate == 0.05  # NAT: no recipe.


def test_record_writes_the_summary_with_its_provenance(command, monkeypatch, tmp_path, capsys):
    path = tmp_path / "results" / "nat.json"
    module = command(
        "train", SMOKE, "--workdir=/nonexistent", f"--record={path}", "--config.seed=3"
    )
    summary = {"knn_top1": 0.5, "figures": {"tsne": "figures/tsne.png"}}
    monkeypatch.setattr(module, "train_and_evaluate", lambda c, w, a: summary)
    module.main([])
    (record,) = records.load_records(str(tmp_path / "results"))
    assert (record.kind, record.name, record.seed) == ("train", "nat", 3)
    assert record.results == {"knn_top1": 0.5}
    assert record.provenance["command"].startswith("python -m ")  # sys.orig_argv: pytest's here.
    assert len(record.provenance["config_hash"]) == 16
    assert capsys.readouterr().out.strip().endswith(f"Recorded the results in {path}")


def test_a_record_path_that_cannot_be_written_stops_before_training(command, monkeypatch, capsys):
    module = command("train", SMOKE, "--workdir=/nonexistent", "--record=results/nat.txt")
    monkeypatch.setattr(module, "train_and_evaluate", lambda c, w, a: pytest.fail("it trained"))
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "natjax: error: --record=results/nat.txt must name a .json file."
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--config.nat.solver=magic", "nat.solver='magic' is invalid"),
        ("--config.num_epochs=0", "num_epochs=0 is invalid"),
        ("--config.input.filter=blur", "input.filter='blur' is invalid: it must be sobel, "),
        ("--config.data.source=idx:/nonexistent", "apt-get install dataset-fashion-mnist"),
        ("--config.data.source=folder:/nonexistent", "does not exist"),
    ],
)
def test_a_mistake_is_one_sentence_and_exit_status_2(command, capsys, override, message):
    module = command("train", SMOKE, "--workdir=/tmp/unused", override)
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.startswith("natjax: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_key_is_named_in_one_sentence(command, capsys):
    with pytest.raises(SystemExit) as stopped:
        command("train", SMOKE, "--config.model.foo=1")
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "the config has no key 'foo' in --config.model.foo=1" in err


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (
            [SMOKE, "--config.batch_size=abc"],
            "--config.batch_size=abc: invalid literal for int() with base 10: 'abc'; see --help "
            "for the flags' types.",
        ),
        ([SMOKE + "x"], "Unknown preset 'smokex' for "),
        ([], "--config is required; see --help for what it takes."),
        (["--config=configs/nope.py"], "the config file configs/nope.py does not exist; "),
        (
            [SMOKE, "--config.nat.reasign_every=2"],
            "the config has no key 'reasign_every' in --config.nat.reasign_every=2 (did you "
            "mean 'reassign_every'?); ",
        ),
        ([SMOKE, "--nosuchflag=1"], "Unknown command line flag 'nosuchflag'"),
    ],
)
def test_a_command_line_mistake_is_one_sentence(tmp_path, args, sentence):
    out = run_main(*args, workdir=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith("natjax: error: ") and sentence in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not os.listdir(tmp_path)


@pytest.mark.needs_fashion_mnist
def test_a_batch_larger_than_the_dataset_is_one_sentence(command, capsys, tmp_path):
    module = command("train", SMOKE, f"--workdir={tmp_path}", "--config.batch_size=4096")
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    assert stopped.value.code == 2
    assert "larger than the 2048 training examples" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_smoke_preset_trains_and_reports(tmp_path):
    out = run_main("--config=configs/nat.py:smoke", "--config.progress_bar=False", workdir=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["num_train_examples"] == 2048 and summary["steps"] == 2 * (2048 // 128)
    assert "linear_probe_top1" in out.stdout
    # Even two epochs on 2k images learn something: far above chance (10%) under kNN.
    assert summary["knn_top1"] > 0.5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--config.model.foo=1", "the config has no key 'foo'"),
        ("--config.nat.solver=magic", "nat.solver='magic' is invalid"),
        ("--config.num_epochs=0", "num_epochs=0 is invalid"),
        ("--config.input.filter=blur", "input.filter='blur' is invalid: it must be sobel, "),
        ("--config.data.source=idx:/nonexistent", "apt-get install dataset-fashion-mnist"),
        ("--config.data.source=folder:/nonexistent", "does not exist"),
    ],
)
def test_mistakes_get_one_clear_sentence(tmp_path, override, message):
    out = run_main("--config=configs/nat.py:smoke", override, workdir=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_batch_larger_than_dataset(tmp_path):
    out = run_main("--config=configs/nat.py:smoke", "--config.batch_size=4096", workdir=tmp_path)
    assert out.returncode == 2 and "larger than the 2048 training examples" in out.stderr


@pytest.mark.slow
def test_wrong_type_is_refused_by_flag_parsing(tmp_path):
    out = run_main("--config=configs/nat.py:smoke", "--config.batch_size=abc", workdir=tmp_path)
    assert out.returncode != 0 and "--config.batch_size=abc" in out.stderr


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_unwritable_workdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run_main("--config=configs/nat.py:smoke", workdir=blocker / "sub")
    assert os.path.isdir(DEBIAN_FASHION_MNIST_DIR)  # Past loading the data.
    assert out.returncode == 2 and "pass a writable directory" in out.stderr

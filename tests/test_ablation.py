import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, tiny_config
from natjax import ablation, evaluation, train
from natjax.errors import UserError

FAST = ["nat", "discrete", "highpass", "epochs_half", "supervised"]


@pytest.fixture(scope="module")
def ablated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ablation")
    config = tiny_config(str(tmp))
    config.eval.mlp.epochs = 3
    workdir = str(tmp / "ablation")
    return config, workdir, ablation.ablate(config, workdir, FAST)


def test_each_variant_changes_only_its_keys(tmp_path):
    base = tiny_config(str(tmp_path))
    changed = {}
    for variant in ablation.VARIANTS:
        config = ablation.variant_config(base, variant).to_dict()
        flat = {k: v for k, v in _flatten(config).items() if k != "eval.protocols"}
        changed[variant.name] = {k: v for k, v in flat.items() if v != _flatten(base.to_dict())[k]}
    assert changed["nat"] == {}
    assert changed["reassign_never"] == {"nat.reassign_every": 0}
    assert changed["discrete"] == {"nat.targets": "discrete"}
    assert changed["highpass"] == {"input.filter": "highpass"}
    assert changed["epochs_half"] == {"num_epochs": 2} and base.num_epochs == 3
    assert changed["epochs_double"] == {"num_epochs": 6}
    assert changed["bfloat16"] == {"model.dtype": "bfloat16"}
    assert changed["supervised_raw"] == {"objective": "supervised", "input.filter": "raw"}
    assert ablation.variant_config(base, ablation.VARIANTS[0]).eval.protocols == ablation.PROTOCOLS


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def test_unknown_variant_is_one_sentence():
    with pytest.raises(UserError, match="unknown --variants nope; use any of"):
        ablation.select(["nat", "nope"])


def test_the_command_names_an_unknown_variant_in_one_sentence(tmp_path):
    cmd = [sys.executable, "-m", "natjax.ablate", "--config=configs/nat.py:smoke"]
    cmd += [f"--workdir={tmp_path}", "--variants=nat,twice"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "natjax.ablate: error: unknown --variants twice; use any of "
        + ", ".join(sorted(v.name for v in ablation.VARIANTS))
        + "."
    )


def test_table_has_a_row_per_variant_then_the_baselines(ablated):
    _, workdir, table = ablated
    labels = {v.name: v.label for v in ablation.VARIANTS}
    expected = [labels[v.name] for v in ablation.VARIANTS if v.name in FAST]
    assert [r["variant"] for r in table] == [*expected, "random-init encoder", "raw pixels"]
    for row in table[: len(FAST)]:
        assert all(row[k] is not None for k in ablation.COLUMNS), row
    with open(os.path.join(workdir, "ablation.json")) as f:
        assert json.load(f) == table
    with open(os.path.join(workdir, "ablation.md")) as f:
        assert f.read().count("\n") == 2 + len(table)
    with open(os.path.join(workdir, "nat", "summary.json")) as f:
        nat = json.load(f)
    assert table[0]["linear_probe_top1"] == nat["linear_probe_top1"]
    with open(os.path.join(workdir, "baselines.json")) as f:
        baselines = json.load(f)
    assert table[-1]["knn_top1"] == baselines["baseline_raw_pixels_knn_top1"]
    for row in table[-2:]:  # Both baselines under every protocol.
        assert all(row[k] is not None for k in ablation.COLUMNS[:3]), row


def test_variants_ran_with_their_settings(ablated):
    _, workdir, _ = ablated

    def run_file(name, file):
        with open(os.path.join(workdir, name, file)) as f:
            return json.load(f)

    assert run_file("epochs_half", "summary.json")["steps"] == 2 * (96 // 16)
    assert run_file("nat", "summary.json")["steps"] == 3 * (96 // 16)
    supervised = run_file("supervised", "config.json")
    assert supervised["objective"] == "supervised"
    assert supervised["model"]["target_dim"] == 10  # IDX data has 10 classes (the config: 8).
    assert run_file("highpass", "config.json")["input"]["filter"] == "highpass"


def test_supervised_learns_the_toy_labels_and_evaluates_from_its_checkpoint(ablated):
    _, workdir, table = ablated
    directory = os.path.join(workdir, "supervised")
    with open(os.path.join(directory, "summary.json")) as f:
        summary = json.load(f)
    # An untrained 10-way head starts near log(10) = 2.30; 18 steps on the toy squares learn.
    assert summary["final_loss"] < 0.6 * np.log(10)
    _, again = evaluation.evaluate_checkpoint(directory, protocols=("linear",))
    assert again["linear_probe_top1"] == summary["linear_probe_top1"]


def test_a_second_call_reads_finished_variants_back(ablated, monkeypatch):
    config, workdir, table = ablated

    def refuse(*args, **kwargs):
        raise AssertionError("a finished variant was trained again")

    monkeypatch.setattr(train, "train_and_evaluate", refuse)
    assert ablation.ablate(config, workdir, FAST) == table

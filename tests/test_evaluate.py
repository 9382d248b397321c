"""`natjax.evaluate`: a saved checkpoint evaluates to the figures training reported."""

import json
import subprocess
import sys

import pytest

from configs.nat import get_config
from conftest import ROOT, tiny_config
from natjax.evaluation import evaluate_checkpoint
from natjax.train import train_and_evaluate


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    config = tiny_config(str(tmp))
    config.num_epochs = 1
    workdir = tmp / "workdir"
    return workdir, train_and_evaluate(config, str(workdir))


def test_a_checkpoint_evaluates_to_the_end_of_training_figures(trained):
    workdir, summary = trained
    written = json.loads((workdir / "eval" / "step_6.json").read_text())  # By training.
    step, results = evaluate_checkpoint(str(workdir))
    assert step == 6
    for key in ("linear_probe_top1", "knn_top1", "baseline_random_init_linear_top1"):
        assert results[key] == summary[key] == written[key], key


def test_the_cli_evaluates_one_protocol_of_an_earlier_step(trained):
    workdir, _ = trained
    cmd = [sys.executable, "-m", "natjax.evaluate", f"--workdir={workdir}", "--checkpoint=4"]
    out = subprocess.run(
        [*cmd, "--protocol=knn"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "step 4" in out.stdout and "knn_top1" in out.stdout
    assert "linear_probe_top1" not in json.loads((workdir / "eval" / "step_4.json").read_text())
    bad = subprocess.run(
        [*cmd, "--protocol=magic"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and "unknown --protocol magic" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_the_mlp_protocol_probes_the_frozen_conv_features(trained):
    workdir, _ = trained
    _, results = evaluate_checkpoint(str(workdir), protocols=("mlp",))
    assert results.keys() == {"feature_dim", "mlp_probe_top1"}
    assert 0.5 < results["mlp_probe_top1"] <= 1.0  # 4 toy classes: far above chance.


def test_layer_wise_probes_cover_every_stage_and_the_output(trained):
    workdir, _ = trained
    _, results = evaluate_checkpoint(str(workdir), protocols=("layers",))
    names = {"layer_conv1_linear_top1", "layer_conv2_linear_top1", "layer_output_linear_top1"}
    assert results.keys() == {"feature_dim", "linear_probe_solver", *names}
    assert results["linear_probe_solver"] == "lbfgs"  # The toy features fit the budget.
    assert all(0.25 <= results[n] <= 1.0 for n in names)


def test_a_run_saved_before_the_newer_config_keys_still_evaluates(trained, tmp_path):
    """Runs (and exports) written by earlier versions lack keys added since: they read as the
    values those versions used, and the old `input.sobel` reads as `input.filter`."""
    import shutil

    from natjax.encoder_io import upgrade_config

    workdir, summary = trained
    old = tmp_path / "old"
    shutil.copytree(workdir, old)
    config = json.loads((old / "config.json").read_text())
    del config["objective"], config["model"]["dtype"], config["nat"]["targets"]
    del config["eval"]["mlp"], config["input"]["filter"]
    config["input"]["sobel"] = True
    (old / "config.json").write_text(json.dumps(config))
    _, results = evaluate_checkpoint(str(old), protocols=("linear",))
    assert results["linear_probe_top1"] == summary["linear_probe_top1"]
    upgraded = upgrade_config({"input": {"sobel": False}, "model": {"dtype": "bfloat16"}})
    assert upgraded["input"]["filter"] == "raw" and "sobel" not in upgraded["input"]
    assert upgraded["model"]["dtype"] == "bfloat16"
    assert upgraded["objective"] == "nat" and upgraded["nat"]["targets"] == "continuous"
    assert upgraded["data"]["subset"] == "first"  # They kept the first N.
    assert upgraded["data"]["in_memory_gb"] == 2.0 and upgraded["data"]["decode_workers"] == 0
    assert upgraded["input"]["views"] == "paper"
    fresh = json.loads(get_config().to_json_best_effort())
    assert upgraded["input"]["strong"] == fresh["input"]["strong"]  # Resumes compare equal.

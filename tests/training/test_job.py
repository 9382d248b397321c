"""The training job (`natjax.training.job`): a run trains, evaluates, draws its figures and
writes its summary; the same seed gives the same run; every registered objective trains,
exports and does not collapse."""

import json
import os

import numpy as np
import pytest

import natjax
from natjax import checkpoints, data
from natjax.checkpoints.train_state import verify_permutation
from natjax.evaluation.metrics import read_metrics
from natjax.training import assignment_sha256, train_and_evaluate
from tests.helpers import copy_run, tiny_config

SUMMARY_KEYS = {
    "linear_probe_top1",
    "baseline_random_init_linear_top1",
    "baseline_raw_pixels_linear_top1",
    "knn_top1",
    "train_seconds",
    "images_per_second",
    "final_loss",
    "assignment_sha256",
    "features_in_memory",
}


def test_summary_has_every_key_and_is_written(tiny_run):
    config, workdir, summary = tiny_run
    assert summary.keys() >= SUMMARY_KEYS
    with open(os.path.join(workdir, "summary.json")) as f:
        assert json.load(f) == summary
    for key in ("linear_probe_top1", "knn_top1", "baseline_raw_pixels_linear_top1"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["steps"] == 2 * (96 // 16) and np.isfinite(summary["final_loss"])
    assert summary["features_in_memory"] is True  # The toy features fit the budget.
    assert summary["devices"] == 1 and summary["processes"] == 1
    with open(os.path.join(workdir, "eval", "step_12.json")) as f:
        assert json.load(f)["linear_probe_top1"] == summary["linear_probe_top1"]


def test_the_run_records_curves_and_draws_its_pictures(tiny_run):
    from PIL import Image

    _, workdir, summary = tiny_run
    series = read_metrics(workdir)
    assert series["knn_top1"][0].tolist() == [6, 12]  # The kNN monitor, every epoch.
    assert all(0 <= v <= 1 for v in series["knn_top1"][1])
    assert series["loss"][0].tolist() == [4, 6, 8, 12]  # Log and save steps.
    assert series["changed_fraction"][0].tolist() == [4, 6, 8, 12]  # Every epoch re-assigns.
    sizes = {
        "curves": (960, 240),
        "neighbours": (480, 640),
        "filters": (640, 80),
        "tsne": (480, 400),
    }
    assert summary["figures"].keys() == sizes.keys()
    for name, size in sizes.items():
        with Image.open(os.path.join(workdir, summary["figures"][name])) as image:
            assert image.format == "PNG" and image.size == size, name


def test_final_assignment_is_a_saved_permutation_matching_the_digest(tiny_run):
    _, workdir, summary = tiny_run
    manager = checkpoints.create_manager(workdir, create=False)
    assert manager.latest_step() == summary["steps"]
    perm = np.asarray(manager.restore(manager.latest_step()).train["perm"])
    verify_permutation(perm, "test")
    assert assignment_sha256(perm) == summary["assignment_sha256"]
    assert not np.array_equal(perm, np.arange(len(perm)))  # Re-assignment did swap targets.


def test_the_digest_is_the_permutations_int32_bytes():
    import hashlib

    perm = np.array([2, 0, 1])
    assert assignment_sha256(perm) == hashlib.sha256(perm.astype(np.int32).tobytes()).hexdigest()
    assert assignment_sha256(perm) != assignment_sha256(perm[::-1])


def test_a_finished_run_started_again_reports_its_logged_final_loss(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)  # Stopped after training, before its summary.
    os.remove(os.path.join(copy, "summary.json"))
    again = train_and_evaluate(tiny_run.config, copy)
    assert again["steps"] == tiny_run.summary["steps"]
    assert again["final_loss"] == tiny_run.summary["final_loss"]
    assert again["assignment_sha256"] == tiny_run.summary["assignment_sha256"]


@pytest.mark.slow
def test_same_seed_same_run(tiny_run, tmp_path):
    config, _, summary = tiny_run
    again = train_and_evaluate(config, str(tmp_path / "again"))
    assert again["assignment_sha256"] == summary["assignment_sha256"]
    assert again["final_loss"] == summary["final_loss"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, head",
    [
        ("simclr", 8),
        ("rotation", 4),
        ("instdisc", 8),
        ("simsiam", 8),
        ("byol", 8),
        ("moco", 8),
        ("swav", 8),
        ("deepcluster", 8),
    ],
)
def test_each_objective_trains_exports_and_does_not_collapse(tmp_path, name, head):
    config = tiny_config(str(tmp_path))
    config.objective = name
    config.model.update(head_widths=(16,), projection_widths=(16,))
    config.deepcluster.clusters = 20  # Of the toy data's 96 images.
    config.eval.protocols = ("linear", "knn")
    workdir = str(tmp_path / "run")
    summary = train_and_evaluate(config, workdir)
    assert np.isfinite(summary["final_loss"]) and 0 <= summary["knn_top1"] <= 1
    saved, _ = checkpoints.read_run(workdir)
    assert saved.objective == name and saved.model.target_dim == head
    out = natjax.export(workdir, str(tmp_path / "export"))
    z = natjax.load_encoder(out)(data.load(config.data).test.images[:40])
    # Not collapsed: the features still vary across images, in most dimensions.
    spread = z.std(0)
    assert np.isfinite(z).all() and np.mean(spread > 1e-3 * np.abs(z).mean()) > 0.5

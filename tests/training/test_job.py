import json
import logging
import os

import jax
import numpy as np
import pytest

import natjax
from conftest import tiny_config
from natjax import data, features
from natjax.checkpointing import create_manager, verify_permutation
from natjax.errors import UserError
from natjax.models import create_model
from natjax.train import assignment_sha256, train_and_evaluate

SUMMARY_KEYS = {
    "linear_probe_top1",
    "baseline_random_init_linear_top1",
    "baseline_raw_pixels_linear_top1",
    "knn_top1",
    "train_seconds",
    "images_per_second",
    "final_loss",
    "assignment_sha256",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests below (training is the slow part)."""
    tmp = tmp_path_factory.mktemp("run")
    config = tiny_config(str(tmp))
    workdir = str(tmp / "workdir")
    return config, workdir, train_and_evaluate(config, workdir)


def test_summary_has_every_key_and_is_written(trained):
    config, workdir, summary = trained
    assert summary.keys() >= SUMMARY_KEYS
    with open(os.path.join(workdir, "summary.json")) as f:
        assert json.load(f) == summary
    for key in ("linear_probe_top1", "knn_top1", "baseline_raw_pixels_linear_top1"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["steps"] == 3 * (96 // 16) and np.isfinite(summary["final_loss"])


def test_the_run_records_curves_and_draws_its_pictures(trained):
    from PIL import Image

    from natjax import monitor

    _, workdir, summary = trained
    series = monitor.read_metrics(workdir)
    assert series["knn_top1"][0].tolist() == [6, 12, 18]  # The kNN monitor, every epoch.
    assert all(0 <= v <= 1 for v in series["knn_top1"][1])
    assert series["loss"][0].tolist() == [4, 6, 8, 12, 16, 18]  # Log and save steps.
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


def test_final_assignment_is_a_saved_permutation_matching_the_digest(trained):
    _, workdir, summary = trained
    manager = create_manager(workdir, create=False)
    assert manager.latest_step() == summary["steps"]
    perm = np.asarray(manager.restore(manager.latest_step()).train["perm"])
    verify_permutation(perm, "test")
    assert assignment_sha256(perm) == summary["assignment_sha256"]
    assert not np.array_equal(perm, np.arange(len(perm)))  # Re-assignment did swap targets.


def test_exported_encoder_reproduces_the_evaluated_features(trained, tmp_path, caplog):
    config, workdir, _ = trained
    out = natjax.export(workdir, str(tmp_path / "export"))
    encode = natjax.load_encoder(out)
    images = data.load(config.data).test.images[:20]
    feats = encode(images)
    assert feats.shape == (20, 6 * 6 * 16) and feats.dtype == np.float32
    manager = create_manager(workdir, create=False)
    model_vars = manager.restore(manager.latest_step()).model
    encode_fn = features.make_encode_fn(create_model(config), 12)
    expected = features.extract(encode_fn, model_vars, images, 8)
    np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-5)
    caplog.clear()
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(encode(images), feats)
    assert "Compiling" not in caplog.text  # A second call reuses the compiled encoder.
    with pytest.raises(ValueError, match="uint8 images"):
        encode(images.astype(np.float32))
    with pytest.raises(UserError, match="already holds an export"):
        natjax.export(workdir, out)


def test_same_seed_same_run(trained, tmp_path):
    config, _, summary = trained
    again = train_and_evaluate(config, str(tmp_path / "again"))
    assert again["assignment_sha256"] == summary["assignment_sha256"]
    assert again["final_loss"] == summary["final_loss"]


def test_load_encoder_on_a_non_export_is_one_sentence(tmp_path):
    with pytest.raises(UserError, match="not a natjax workdir or export"):
        natjax.load_encoder(str(tmp_path))


def test_transfer_guard_sees_no_host_copy_in_the_step(trained):
    # The jitted step is exercised in test_step; here: the train state lives on device and a
    # device-resident batch goes through a compiled step with host transfers disallowed.
    from natjax.sharding import make_mesh, put_batch
    from natjax.train import compile_step, initial_state, setup

    config, workdir, _ = trained
    run = setup(config, workdir)
    state = initial_state(run, create_manager(workdir, create=False))
    ids = np.arange(16, dtype=np.int32)
    batch = put_batch({"images": run.dataset.train.images[ids], "ids": ids}, make_mesh(), len(ids))
    step = compile_step(run)
    state, _ = step(state, batch)  # Compiles.
    with jax.transfer_guard("disallow"):
        state, metrics = step(state, batch)
    assert np.isfinite(float(metrics["loss"]))

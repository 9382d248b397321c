"""Work saved by natjax before its restructure still resumes, evaluates and loads. The run and
the export in `old_main/` were written by natjax at 49b5733 (Python 3.11, jax 0.10.2), on the
toy IDX data of `tests.helpers.make_idx_dataset`, which regenerates byte for byte; `record.json`
holds what that code reported: the run's summary and the export's features of four test
images. The run keeps its checkpoints at steps 12 and 18 (of 18)."""

import json
import os
import shutil

import numpy as np
import pytest

import natjax
from natjax import evaluation
from natjax.data.idx import read_idx
from natjax.training import train_and_evaluate
from tests.helpers import make_idx_dataset

OLD = os.path.join(os.path.dirname(__file__), "old_main")
with open(os.path.join(OLD, "record.json")) as f:
    RECORD = json.load(f)


def old_run(tmp_path, keep: tuple[int, ...] = (12, 18)) -> tuple[str, str]:
    """A copy of the old run with the checkpoints of `keep`, its `config.json` pointed at the
    toy data made afresh; and that data's directory."""
    idx = make_idx_dataset(str(tmp_path / "idx"))
    run = str(tmp_path / "run")
    shutil.copytree(os.path.join(OLD, "run"), run)
    for step in os.listdir(os.path.join(run, "checkpoints")):
        if int(step) not in keep:
            shutil.rmtree(os.path.join(run, "checkpoints", step))
    path = os.path.join(run, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["data"]["source"] = "idx:" + idx
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    return run, idx


def test_the_copy_holds_what_the_record_says():
    steps = sorted(int(s) for s in os.listdir(os.path.join(OLD, "run", "checkpoints")))
    assert steps == RECORD["checkpoint_steps"] == [12, 18]


@pytest.mark.slow
def test_an_old_checkpoint_resumes_to_the_old_codes_final_state(tmp_path):
    from configs.nat import get_config

    run, idx = old_run(tmp_path, keep=(12,))
    config = get_config("smoke")  # Today's config, with the overrides the old run was given.
    config.update_from_flattened_dict(
        {k: tuple(v) if isinstance(v, list) else v for k, v in RECORD["overrides"].items()}
    )
    config.data.source = "idx:" + idx
    config.eval.protocols = tuple(RECORD["protocols"])
    summary = train_and_evaluate(config, run)
    old = RECORD["summary"]
    assert summary["steps"] == old["steps"] == 18
    assert summary["assignment_sha256"] == old["assignment_sha256"]
    assert summary["final_loss"] == old["final_loss"]
    assert summary["knn_top1"] == old["knn_top1"]


def test_an_old_checkpoint_evaluates(tmp_path, capsys):
    run, _ = old_run(tmp_path)
    step, results = evaluation.evaluate_checkpoint(run, protocols=["linear", "knn"])
    assert step == 18
    assert "was written before natjax saved checksums, so it cannot be verified" in (
        capsys.readouterr().err
    )
    assert results["knn_top1"] == RECORD["summary"]["knn_top1"]  # The same kNN rule.
    assert results["feature_dim"] == RECORD["summary"]["feature_dim"]
    assert 0.9 <= results["linear_probe_top1"] <= 1.0  # The toy classes are separable.


def toy_test_images(tmp_path) -> np.ndarray:
    idx = make_idx_dataset(str(tmp_path / "idx"))
    return read_idx(os.path.join(idx, "t10k-images-idx3-ubyte.gz"))[:4, :, :, None]


def test_an_old_export_loads_and_encodes_as_it_did(tmp_path, capsys):
    encode = natjax.load_encoder(os.path.join(OLD, "export"))
    assert capsys.readouterr().err == (
        f"natjax: the export {os.path.join(OLD, 'export')} was written before natjax saved "
        "checksums, so it cannot be verified.\n"
    )
    expected = np.asarray(RECORD["export_features"], np.float32)
    np.testing.assert_allclose(encode(toy_test_images(tmp_path)), expected, rtol=1e-5, atol=1e-6)


def test_an_old_run_exports_with_todays_code(tmp_path):
    run, _ = old_run(tmp_path)
    encode = natjax.load_encoder(natjax.export(run, str(tmp_path / "export")))
    expected = np.asarray(RECORD["export_features"], np.float32)
    np.testing.assert_allclose(encode(toy_test_images(tmp_path)), expected, rtol=1e-5, atol=1e-6)

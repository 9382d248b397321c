"""Every protocol of a run (`natjax.evaluation.suite`): a saved checkpoint evaluates to the
figures training reported, protocol by protocol, runs saved by older natjax still evaluate,
and the memory budget changes where the features live, never the figures."""

import json

import jax
import pytest

from natjax import data, evaluation
from natjax.errors import UserError
from natjax.evaluation import evaluate_checkpoint, stream
from natjax.models import create_model
from natjax.objectives.state import init_variables
from tests.helpers import copy_run, tiny_config


def test_a_checkpoint_evaluates_to_the_end_of_training_figures(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    written = json.loads((tmp_path / "copy" / "eval" / "step_12.json").read_text())  # Training's.
    step, results = evaluate_checkpoint(copy)
    assert step == 12
    for key in ("linear_probe_top1", "knn_top1", "baseline_random_init_linear_top1"):
        assert results[key] == tiny_run.summary[key] == written[key], key
    again = json.loads((tmp_path / "copy" / "eval" / "step_12.json").read_text())
    assert again == {"step": 12, **results}


def test_an_earlier_step_evaluates_under_one_protocol(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    step, results = evaluate_checkpoint(copy, 8, ("knn",))
    assert step == 8 and results.keys() == {"feature_dim", "knn_top1", "features_in_memory"}
    written = json.loads((tmp_path / "copy" / "eval" / "step_8.json").read_text())
    assert "linear_probe_top1" not in written and written["knn_top1"] == results["knn_top1"]


def test_an_unknown_protocol_is_one_sentence(tiny_run):
    with pytest.raises(UserError, match="unknown --protocol magic; use any of linear, mlp, knn"):
        evaluate_checkpoint(tiny_run.workdir, protocols=("knn", "magic"))


def test_the_mlp_protocol_probes_the_frozen_conv_features(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    _, results = evaluate_checkpoint(copy, protocols=("mlp",))
    assert results.keys() == {"feature_dim", "mlp_probe_top1", "features_in_memory"}
    assert 0.5 < results["mlp_probe_top1"] <= 1.0  # 4 toy classes: far above chance.


def test_layer_wise_probes_cover_every_stage_and_the_output(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    _, results = evaluate_checkpoint(copy, protocols=("layers",))
    names = {"layer_conv1_linear_top1", "layer_conv2_linear_top1", "layer_output_linear_top1"}
    assert results.keys() == {"feature_dim", "features_in_memory", *names}
    assert results["features_in_memory"] is True  # The toy features fit the budget.
    assert all(0.25 <= results[n] <= 1.0 for n in names)


def test_a_run_saved_before_the_newer_config_keys_still_evaluates(tiny_run, tmp_path):
    """Runs (and exports) written by earlier versions lack keys added since: they read as the
    values those versions used, the old `input.sobel` as `input.filter`, and the old
    streamed probe's settings (`eval.minibatch`, `eval.probe_l2`) as `eval.linear`."""
    copy, _ = copy_run(tiny_run, tmp_path)
    path = tmp_path / "copy" / "config.json"
    config = json.loads(path.read_text())
    del config["objective"], config["model"]["dtype"], config["nat"]["targets"]
    del config["eval"]["mlp"], config["input"]["filter"]
    config["input"]["sobel"] = True
    linear = config["eval"].pop("linear")
    config["eval"]["probe_l2"] = linear.pop("l2")
    config["eval"]["probe_steps"] = 50  # The L-BFGS probe's, read by nothing now.
    config["eval"]["minibatch"] = linear
    path.write_text(json.dumps(config))
    _, results = evaluate_checkpoint(copy, protocols=("linear",))
    assert results["linear_probe_top1"] == tiny_run.summary["linear_probe_top1"]


def test_the_feature_budget_holds_features_in_memory_or_streams_them_for_the_same_figures(
    tmp_path, monkeypatch
):
    """Features within `eval.max_feature_bytes` are computed once and held; one byte over,
    nothing is gathered and every protocol streams: the same figures either way."""
    config = tiny_config(str(tmp_path))
    config.eval.mlp.epochs = 3
    dataset = data.load(config.data)
    model = create_model(config)
    variables = init_variables(model, jax.random.key(0), (12, 12, 1))

    def evaluate(budget, protocols=("linear", "knn", "mlp")):
        config.eval.max_feature_bytes = budget
        return evaluation.evaluate(config, model, variables, variables, dataset, 12, protocols)

    held = evaluate(10**12)
    nbytes = len(dataset.train) * held["feature_dim"] * 4
    assert evaluate(nbytes, ("knn",)).keys() == {"feature_dim", "knn_top1", "features_in_memory"}
    assert held["features_in_memory"] and evaluate(nbytes, ("knn",))["features_in_memory"]

    def refuse(*args, **kwargs):
        raise AssertionError("materialised")

    monkeypatch.setattr(stream.FeatureStream, "gather", refuse)
    streamed = evaluate(nbytes - 1)
    assert streamed["features_in_memory"] is False
    for key in ("linear_probe_top1", "mlp_probe_top1", "knn_top1"):
        assert streamed[key] == held[key], key


@pytest.mark.slow
def test_the_baselines_of_a_config_without_training_it(tmp_path):
    config = tiny_config(str(tmp_path))
    results = evaluation.evaluate_baselines(config, ("linear", "knn"))
    assert results.keys() == {
        f"baseline_{name}_{protocol}_top1"
        for name in ("random_init", "raw_pixels")
        for protocol in ("linear", "knn")
    }
    assert all(0.25 < v <= 1.0 for v in results.values())  # The toy squares are easy.


def test_transfer_evaluates_the_encoder_on_another_datasets_converted_images(tiny_run, tmp_path):
    from tests.data.folders import make_folder

    copy, _ = copy_run(tiny_run, tmp_path)
    other = tiny_config(str(tmp_path)).data
    other.update(name="colours", source=f"folder:{make_folder(tmp_path / 'colours')}")
    other.image_size = 6  # RGB 6 x 6 images; the encoder saw gray 12 x 12.
    dataset = evaluation.transfer(other, (12, 12, 1))
    assert dataset.name == "colours" and dataset.image_shape == (12, 12, 1)
    assert dataset.num_classes == 2 and len(dataset.train) == 6
    step, results = evaluate_checkpoint(copy, None, ("linear", "knn", "baselines"), other)
    assert step == 12 and results["linear_probe_top1"] == 1.0  # Red against blue.
    assert "baseline_raw_pixels_linear_top1" in results
    written = json.loads((tmp_path / "copy" / "eval" / "step_12_on_colours.json").read_text())
    assert written == {"step": 12, **results}
    own = json.loads((tmp_path / "copy" / "eval" / "step_12.json").read_text())
    assert own["linear_probe_top1"] == tiny_run.summary["linear_probe_top1"]  # Untouched.


def test_transfer_to_an_unlabelled_dataset_is_one_sentence(tmp_path):
    from tests.data.folders import make_folder

    root = make_folder(tmp_path / "one")
    import shutil

    shutil.rmtree(root / "train" / "dog")
    shutil.rmtree(root / "test" / "dog")
    other = tiny_config(str(tmp_path)).data
    other.update(name="one", source=f"folder:{root}", image_size=6)
    with pytest.raises(UserError, match="'one' has 1 class"):
        evaluation.transfer(other, (12, 12, 1))


def test_a_multi_label_dataset_is_scored_by_the_linear_probes_map(tmp_path):
    from tests.helpers import multilabel_dataset

    config = tiny_config(str(tmp_path))
    dataset = multilabel_dataset()
    model = create_model(config)
    variables, crop = evaluation.initial_variables(config, model, dataset)
    results = evaluation.evaluate(config, model, variables, variables, dataset, crop)
    assert set(results) == {
        "feature_dim",
        "linear_probe_map",
        "baseline_random_init_linear_map",
        "baseline_raw_pixels_linear_map",
        "features_in_memory",
    }
    assert results["linear_probe_map"] == results["baseline_random_init_linear_map"]
    assert results["baseline_raw_pixels_linear_map"] > 0.9  # Each class is a bright quadrant.

"""The `finetune` protocol (`natjax.training.finetune`): the encoder plus a linear classifier
trained on a balanced share of the labels, from the run's encoder and from scratch, each in a
resumable workdir of its own."""

import dataclasses
import os

import jax
import numpy as np
import pytest

from natjax import checkpoints, data, evaluation
from natjax.errors import UserError
from natjax.models import create_model
from natjax.objectives import create_train_state
from natjax.objectives.state import init_variables, split_seed
from natjax.parallel import sharding
from natjax.training import finetune
from natjax.training.config_checks import check_config
from natjax.training.optim import create_optimizer
from natjax.views import model_input_shape
from tests.helpers import copy_run


def _pretrained(tiny_run, workdir: str) -> finetune.Pretrained:
    config = tiny_run.config.copy_and_resolve_references()
    config.eval.finetune.update(steps=6, batch_size=16)
    image_shape = tuple(data.load(config.data).image_shape)
    like = checkpoints.abstract_variables(config, image_shape)
    variables = jax.tree.map(np.asarray, checkpoints.restore_model(workdir, None, like))
    return finetune.Pretrained(config, variables, 12, data.load(config.data), workdir)


def _distance(a: dict, b: dict) -> float:
    return sum(
        float(np.sum((np.asarray(x) - np.asarray(y)) ** 2))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_a_finetune_is_the_supervised_objective_on_a_linear_head_for_the_steps(tiny_run):
    config = tiny_run.config.copy_and_resolve_references()
    config.eval.finetune.update(steps=7, batch_size=16)
    c = finetune.finetune_config(config, 10, devices=4)
    assert c.objective == "supervised" and tuple(c.model.head_widths) == ()
    assert c.batch_size == 8  # At most the labelled images, split over the devices.
    assert finetune.repeats(10, 8) == 40  # 50 steps of 8 from 10 images an epoch.
    assert c.num_epochs == 1 and data.num_steps_per_epoch(400, 8) >= 7
    config.eval.finetune.steps = 120
    assert finetune.finetune_config(config, 10, devices=4).num_epochs == 3
    assert finetune.repeats(10_000, 128) == 1
    assert tuple(c.eval.protocols) == () and c.eval.monitor_every_epochs == 0
    check_config(c)
    with pytest.raises(UserError, match="fewer than the 4 devices"):
        finetune.finetune_config(config, 3, devices=4)


def test_only_the_pretrained_rows_encoder_moves_at_the_encoder_scale(tiny_run):
    config = tiny_run.config.copy_and_resolve_references()
    assert "encoder_learning_rate_scale" not in finetune.finetune_config(config, 16, 1).optim
    config.eval.finetune.encoder_learning_rate_scale = 0.1
    config.lock()  # As the command line gives it.
    tuned = finetune.finetune_config(config, 16, devices=1, pretrained=True)
    scratch = finetune.finetune_config(config, 16, devices=1, pretrained=False)
    assert tuned.optim.encoder_learning_rate_scale == 0.1
    assert "encoder_learning_rate_scale" not in scratch.optim
    config.eval.finetune.encoder_learning_rate_scale = 0.0
    with pytest.raises(UserError, match=r"encoder_learning_rate_scale.*in \(0, 1\]"):
        check_config(config)


def test_bad_label_fractions_are_one_sentence(tiny_run):
    for bad in ((), (0.0,), (0.5, 1.5)):
        with pytest.raises(UserError, match=r"give each in \(0, 1\]"):
            finetune.check_fractions(bad)
    config = tiny_run.config.copy_and_resolve_references()
    config.eval.finetune.label_fractions = (0.1, 2.0)
    with pytest.raises(UserError, match="eval.finetune.label_fractions"):
        check_config(config)


def test_the_pretrained_row_starts_from_the_runs_encoder_and_nothing_else(tiny_run):
    pretrained = _pretrained(tiny_run, tiny_run.workdir)
    c = finetune.finetune_config(pretrained.config, 16, devices=1)
    model, mesh = create_model(c), sharding.make_mesh()
    shape = model_input_shape(pretrained.dataset.image_shape, c.input.crop_size)
    state = create_train_state(model, create_optimizer(c.optim, 10), c.seed, 16, shape)
    swapped = finetune.with_encoder(state, pretrained.variables, mesh)
    assert _distance(swapped.params["encoder"], pretrained.variables["params"]["encoder"]) == 0
    bs = swapped.batch_stats["encoder"]
    assert _distance(bs, pretrained.variables["batch_stats"]["encoder"]) == 0
    head = {k: v for k, v in swapped.params.items() if k != "encoder"}
    assert head and _distance(head, {k: state.params[k] for k in head}) == 0


@pytest.mark.slow
def test_both_rows_at_each_fraction_train_score_and_resume(tiny_run, tmp_path):
    workdir, _ = copy_run(tiny_run, tmp_path)
    pretrained = _pretrained(tiny_run, workdir)
    results = finetune.top1s(pretrained, (0.25, 1.0))
    assert set(results) == {
        "finetune_top1@0.25",
        "scratch_top1@0.25",
        "finetune_top1@1",
        "scratch_top1@1",
        "finetune_labelled@0.25",
        "finetune_labelled@1",
    }
    assert results["finetune_labelled@1"] == 96
    assert 20 <= results["finetune_labelled@0.25"] <= 28  # A quarter of each of 4 classes.
    for key, value in results.items():
        if "top1" in key:
            assert 0.0 <= value <= 1.0
    assert results["finetune_top1@1"] > 0.3  # Above chance: 4 classes of bright squares.

    # The pretrained row moved a little from the run's encoder; the scratch row from step 0's.
    base = os.path.join(workdir, "finetune", "step_12")
    config, image_shape = checkpoints.read_run(os.path.join(base, "pretrained_1"))
    like = checkpoints.abstract_variables(config, image_shape)
    tuned = checkpoints.restore_model(os.path.join(base, "pretrained_1"), None, like)
    scratch = checkpoints.restore_model(os.path.join(base, "scratch_1"), None, like)
    shape = model_input_shape(image_shape, config.input.crop_size)
    init = init_variables(create_model(config), split_seed(config.seed)[0], shape)
    run_encoder = pretrained.variables["params"]["encoder"]
    assert _distance(tuned["params"]["encoder"], run_encoder) < _distance(
        tuned["params"]["encoder"], init["params"]["encoder"]
    )
    assert _distance(scratch["params"]["encoder"], init["params"]["encoder"]) < _distance(
        scratch["params"]["encoder"], run_encoder
    )

    # A second call resumes every finished fine-tune from its last checkpoint: same figures.
    assert finetune.top1s(dataclasses.replace(pretrained), (0.25, 1.0)) == results


@pytest.mark.slow
def test_a_run_naming_finetune_in_its_protocols_fine_tunes_at_its_end(tmp_path):
    from natjax.training import train_and_evaluate
    from tests.helpers import tiny_config

    config = tiny_config(str(tmp_path))
    config.num_epochs = 1
    config.eval.protocols = ("linear", "finetune")
    config.eval.baselines = False
    config.eval.finetune.update(label_fractions=(0.5,), steps=3, batch_size=16)
    summary = train_and_evaluate(config, str(tmp_path / "run"))
    assert 0.0 <= summary["finetune_top1@0.5"] <= 1.0 and 0.0 <= summary["scratch_top1@0.5"] <= 1
    assert os.path.isdir(tmp_path / "run" / "finetune" / "step_6" / "scratch_0.5" / "checkpoints")


@pytest.mark.slow
def test_a_transfer_fine_tune_has_workdirs_of_its_own(tiny_run, tmp_path):
    from tests.data.folders import make_folder
    from tests.helpers import tiny_config

    workdir, _ = copy_run(tiny_run, tmp_path)
    other = tiny_config(str(tmp_path)).data
    other.update(name="colours", source=f"folder:{make_folder(tmp_path / 'c')}", image_size=6)
    dataset = evaluation.transfer(other, (12, 12, 1))
    pretrained = dataclasses.replace(_pretrained(tiny_run, workdir), dataset=dataset, transfer=True)
    pretrained.config.eval.finetune.batch_size = 6
    results = finetune.top1s(pretrained, (1.0,))
    assert results["finetune_labelled@1"] == 6 and 0.0 <= results["finetune_top1@1"] <= 1.0
    base = os.path.join(workdir, "finetune", "step_12_on_colours")
    assert sorted(os.listdir(base)) == ["pretrained_1", "scratch_1"]


@pytest.mark.slow
def test_a_multi_label_fine_tune_is_scored_by_map(tiny_run, tmp_path):
    from tests.helpers import multilabel_dataset

    workdir, _ = copy_run(tiny_run, tmp_path)
    pretrained = dataclasses.replace(
        _pretrained(tiny_run, workdir), dataset=multilabel_dataset(), transfer=True
    )
    results = finetune.top1s(pretrained, (0.5, 1.0))
    assert results["finetune_labelled@0.5"] == 48
    for key in ("finetune_map@0.5", "scratch_map@0.5", "finetune_map@1", "scratch_map@1"):
        assert 0.0 <= results[key] <= 1.0

"""The checks of a run's config (`natjax.training.config_checks`): a bad value is one sentence
naming the key and how to fix it, and a resumed run must train what the saved one trained."""

import json
import os
import re

import orbax.checkpoint as ocp
import pytest

from configs.nat import get_config
from natjax import checkpoints
from natjax.checkpoints import upgrade_config
from natjax.errors import UserError
from natjax.training import train_and_evaluate
from natjax.training.config_checks import check_batch_fits, check_config, check_resume_config
from tests.helpers import copy_run


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("num_epochs", 0, "--config.num_epochs=0 is invalid: it must be a positive integer."),
        ("input.filter", "blur", "--config.input.filter='blur' is invalid: it must be sobel, "),
        ("model.encoder", "vgg", "--config.model.encoder='vgg' is invalid: it must be one of "),
        ("model.pool", "max", "--config.model.pool='max' is invalid: it must be flatten or avg."),
        ("optim.name", "rmsprop", "--config.optim.name='rmsprop' is invalid: it must be sgd or"),
        ("input.views", "weak", "--config.input.views='weak' is invalid: it must be paper or"),
        ("input.crop_size", 40, "--config.input.crop_size=40 is invalid: it must be 0 (the"),
        ("eval.protocols", ("linear", "svm"), "--config.eval.protocols=('linear', 'svm') is"),
        ("nat.solver", "magic", "--config.nat.solver='magic' is invalid"),  # An objective's.
        ("data.subset", "last", "--config.data.subset='last' is invalid: it must be random or"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_the_key(key, value, message):
    config = get_config("smoke")
    check_config(config)
    config.update_from_flattened_dict({key: value})
    with pytest.raises(UserError, match="^" + re.escape(message)) as refused:
        check_config(config)
    assert len(str(refused.value).splitlines()) == 1


def test_a_batch_larger_than_the_training_set_says_the_largest_that_fits():
    check_batch_fits(96, 96)
    with pytest.raises(UserError, match="set --config.batch_size to at most 96"):
        check_batch_fits(128, 96)


def test_resuming_with_another_config_is_refused_naming_the_keys(tiny_run):
    config, workdir, _ = tiny_run
    changed = config.copy_and_resolve_references()
    changed.batch_size = 8
    changed.optim.learning_rate = 0.5
    with pytest.raises(UserError, match=r"another config \(batch_size 16 -> 8, optim"):
        train_and_evaluate(changed, workdir)
    harmless = config.copy_and_resolve_references()
    harmless.progress_bar, harmless.eval.knn_k = True, 3
    manager = checkpoints.create_manager(workdir, create=False)
    item = ocp.args.Composite(config=ocp.args.JsonRestore())
    saved = manager.restore(manager.latest_step(), args=item).config
    assert saved["batch_size"] == 16  # The checkpoint holds its config.
    check_resume_config(saved, harmless, workdir)  # Reporting keys may change.


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_the_check_reads_the_checkpoints_config_when_config_json_is_lost(
    tiny_run, tmp_path, damage
):
    copy, _ = copy_run(tiny_run, tmp_path)
    path = os.path.join(copy, "config.json")
    if damage == "delete":
        os.remove(path)
    else:
        with open(path, "w") as f:
            f.write('{"seed": 0, "batch')
    faster = tiny_run.config.copy_and_resolve_references()
    faster.optim.learning_rate = 0.5
    with pytest.raises(UserError, match=r"another config \(optim.learning_rate 0.05 -> 0.5\)"):
        train_and_evaluate(faster, copy)
    assert checkpoints.read_run(copy)[0].optim.learning_rate == 0.05  # Evaluate, export too.


def test_allow_change_resumes_with_the_named_keys_changed_and_records_them(tiny_run, tmp_path):
    copy, _ = copy_run(tiny_run, tmp_path)
    faster = tiny_run.config.copy_and_resolve_references()
    faster.optim.learning_rate = 0.02
    faster.num_epochs = 3
    with pytest.raises(UserError) as refused:
        train_and_evaluate(faster, copy, allow_change=("optim.learning_rate",))
    assert "(num_epochs 2 -> 3); set these back to resume it, resume with them changed on " in (
        str(refused.value)
    )
    assert "--allow_change=num_epochs, or pass a new --workdir." in str(refused.value)
    with pytest.raises(UserError, match=r"--allow_change=optim.lr names no config key"):
        train_and_evaluate(faster, copy, allow_change=("optim.lr", "num_epochs"))
    summary = train_and_evaluate(faster, copy, allow_change=("optim.", "num_epochs"))
    assert summary["steps"] == 18
    with open(os.path.join(copy, "run.json")) as f:
        changes = json.load(f)["allowed_changes"]
    assert changes == [
        {"step": 12, "keys": {"num_epochs": [2, 3], "optim.learning_rate": [0.05, 0.02]}}
    ]


def test_a_run_saved_before_data_subset_resumes_unless_it_drew_a_subset(tmp_path):
    """Old runs read as data.subset="first": that matters only where a subset was drawn."""
    config = get_config()
    old = json.loads(config.to_json_best_effort())
    del old["data"]["subset"], old["data"]["subset_seed"]
    check_resume_config(upgrade_config(old), config, str(tmp_path))
    old["data"]["max_train_examples"] = config.data.max_train_examples = 100
    with pytest.raises(UserError, match="data.subset 'first' -> 'random'"):
        check_resume_config(upgrade_config(old), config, str(tmp_path))

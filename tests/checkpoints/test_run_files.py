"""A run's files beside its checkpoints (`natjax.checkpoints.run_files`): written when it
starts, read back by everything that rebuilds its model, and a config saved by an older
natjax upgraded to the values it ran with."""

import json
import os

import jax
import pytest

from configs.nat import get_config
from natjax import checkpoints, objectives
from natjax.checkpoints import abstract_variables, read_run, saved_config, upgrade_config
from natjax.errors import UserError


def test_a_saved_config_without_the_newer_keys_reads_as_the_values_it_ran_with():
    """Runs (and exports) written by earlier versions lack keys added since: they read as the
    values those versions used, and the old `input.sobel` reads as `input.filter`."""
    old = {"input": {"sobel": False}, "model": {"dtype": "bfloat16"}}
    old["nat"] = {"solver": "auction_pallas"}
    upgraded = upgrade_config(old)
    assert upgraded["nat"]["solver"] == "auction_triton"  # The one Pallas kernel of the time.
    assert upgraded["input"]["filter"] == "raw" and "sobel" not in upgraded["input"]
    assert upgraded["model"]["dtype"] == "bfloat16"
    assert upgraded["objective"] == "nat" and upgraded["nat"]["targets"] == "continuous"
    assert upgraded["data"]["subset"] == "first"  # They kept the first N.
    assert upgraded["data"]["in_memory_gb"] == 2.0 and upgraded["data"]["decode_workers"] == 0
    assert upgraded["input"]["views"] == "paper"
    fresh = json.loads(get_config().to_json_best_effort())
    assert upgraded["input"]["strong"] == fresh["input"]["strong"]  # Resumes compare equal.
    assert upgrade_config({"input": {"sobel": True}})["input"]["filter"] == "sobel"


def test_the_old_probe_settings_become_the_linear_probes():
    """`eval.minibatch` and `eval.probe_l2` held the linear probe's settings."""
    old = {"eval": {"minibatch": {"epochs": 7, "batch_size": 64, "learning_rate": 0.1}}}
    old["eval"]["probe_l2"] = 1e-3
    linear = upgrade_config(old)["eval"]["linear"]
    assert linear == {"epochs": 7, "batch_size": 64, "learning_rate": 0.1, "l2": 1e-3}
    default = upgrade_config({})["eval"]["linear"]
    assert default == {"epochs": 5, "batch_size": 256, "learning_rate": 1e-2, "l2": 1e-4}
    assert default == get_config().eval.linear.to_dict()  # As new runs hold them.
    kept = {"eval": {"linear": {"epochs": 1, "batch_size": 8, "learning_rate": 1, "l2": 0}}}
    assert upgrade_config(kept)["eval"]["linear"]["epochs"] == 1


def test_objectives_added_since_read_at_their_old_values_or_their_defaults():
    old = json.loads(get_config().to_json_best_effort())
    for name in ("simclr", "instdisc", "simsiam", "byol", "moco", "swav", "deepcluster"):
        del old[name]  # As configs saved before the successors existed.
    del old["model"]["projection_widths"]
    upgraded = upgrade_config(old)
    assert upgraded["byol"]["momentum_schedule"] == "constant"  # As runs before it used.
    assert upgraded["deepcluster"]["pca_dim"] == 0 and upgraded["swav"]["small_crops"] == 0
    assert upgraded["model"]["projection_widths"] == []
    for name, section in objectives.default_settings().items():
        assert set(upgraded[name]) == set(section.to_dict()), name
    saved = {"objective": "simclr", "simclr": {"temperature": 0.1}}
    assert upgrade_config(saved)["simclr"] == {"temperature": 0.1}  # What it ran with.
    assert saved == {"objective": "simclr", "simclr": {"temperature": 0.1}}  # Not changed.


def test_a_run_writes_and_reads_back_its_config_and_the_shape_it_saw(tiny_run):
    config, workdir, _ = tiny_run
    read, image_shape = read_run(workdir)
    assert image_shape == (12, 12, 1) and tuple(read.model.widths) == (8, 16)
    written = _flatten(json.loads(config.to_json_best_effort()))
    assert _flatten(read.to_dict()).items() >= written.items()  # Its keys, as it ran.
    with open(os.path.join(workdir, "run.json")) as f:
        assert json.load(f) == {
            "image_shape": [12, 12, 1],
            "num_classes": 10,
            "num_train_examples": 96,
        }
    assert saved_config(workdir)["model"]["widths"] == [8, 16]
    like = abstract_variables(read, image_shape)
    kernel = like["params"]["encoder"]["Conv_0"]["kernel"]
    assert kernel.shape == (3, 3, 2, 8) and kernel.sharding.device_set == {jax.local_devices()[0]}


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        key = prefix + k
        out.update(_flatten(v, key + ".") if isinstance(v, dict) else {key: json.dumps(v)})
    return out


def test_a_workdir_without_checkpoints_has_no_saved_config(tmp_path):
    assert saved_config(str(tmp_path)) is None
    with pytest.raises(UserError, match="config.json is missing; .* is not a natjax workdir"):
        read_run(str(tmp_path))


def test_an_unwritable_workdir_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    dataset = type("Dataset", (), {"image_shape": (1, 1, 1), "num_classes": 2, "train": ()})
    with pytest.raises(UserError, match="pass a writable directory"):
        checkpoints.write_run(str(blocker / "sub"), get_config(), dataset)


def test_a_garbled_config_json_reads_from_the_checkpoints_or_is_one_sentence(tiny_run, tmp_path):
    import shutil

    import natjax

    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir)
    out = natjax.export(workdir, str(tmp_path / "export"))
    for directory in (workdir, out):
        with open(os.path.join(directory, "config.json"), "w") as f:
            f.write('{"seed": 0,')
    config, _ = read_run(workdir)  # The checkpoints hold the config too.
    assert config.model.to_json() == tiny_run.config.model.to_json()
    with pytest.raises(UserError) as refused:  # An export has no checkpoints to fall back on.
        natjax.load_encoder(out)
    sentence = str(refused.value)
    assert sentence.startswith(f"{out}/config.json is garbled (")
    assert sentence.endswith("); restore it from a copy, or export or train again.")

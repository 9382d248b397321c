"""A run's pieces (`natjax.training.run`): the head each objective trains, the step's
settings, and the jitted step, which copies nothing to the host."""

import jax
import numpy as np
import pytest

from natjax import checkpoints, objectives
from natjax.errors import UserError
from natjax.parallel.sharding import make_mesh, put_batch
from natjax.training import compile_step, initial_state, setup, step_config
from natjax.training.run import head_dim, head_widths, view_spec
from natjax.views import ViewSpec
from tests.helpers import objective_config, tiny_config


@pytest.mark.parametrize(
    "name, widths",
    [("nat", ()), ("supervised", ()), ("instdisc", ()), ("simclr", (24,)), ("byol", (24,))],
)
def test_the_objectives_with_a_projection_mlp_train_through_it(tmp_path, name, widths):
    config = tiny_config(str(tmp_path))
    config.objective = name
    config.model.projection_widths = (24,)
    run = setup(config, str(tmp_path / "run"))
    assert run.config.model.head_widths == widths and run.model.head_widths == widths
    config.model.projection_widths = ()  # A linear projection, as the base config's head.
    assert setup(config, str(tmp_path / "run")).model.head_widths == ()


def test_a_classifier_objective_sizes_its_head_and_the_config_as_run_says_so(tmp_path):
    config = tiny_config(str(tmp_path))
    config.objective = "supervised"
    run = setup(config, str(tmp_path / "run"))
    assert run.config.model.target_dim == 10 == run.model.target_dim  # IDX data: 10 classes.
    assert config.model.target_dim == 8  # The config passed in is left alone.
    rotation = objectives.build(objective_config("rotation"))
    assert head_dim(config, rotation, 10) == 4 and head_dim(config, run.objective, 7) == 7
    assert head_dim(config, objectives.build(objective_config("nat")), 10) == 8
    nat = objectives.build(objective_config("nat"))
    config.model.head_widths = (5,)
    assert head_widths(config, nat) == (5,)


def test_the_step_config_takes_the_crop_and_the_views_the_objective_asks_for(tmp_path):
    config = tiny_config(str(tmp_path))
    nat, simclr = (objectives.build(objective_config(n)) for n in ("nat", "simclr"))
    cfg = step_config(config, nat, (12, 12, 1), steps_per_epoch=6)
    assert (cfg.steps_per_epoch, cfg.crop_size, cfg.crop_padding, cfg.flip) == (6, 12, 2, True)
    assert cfg.views is None  # The paper's crops and flips.
    config.input.crop_size = 10
    assert step_config(config, nat, (12, 12, 1), 6).crop_size == 10
    strong = view_spec(config, simclr)  # SimCLR always draws strong views.
    assert strong == ViewSpec(**config.input.strong.to_dict(), flip=True)
    config.input.views = "strong"
    assert view_spec(config, nat) == strong


def test_a_batch_larger_than_the_dataset_is_one_sentence(tmp_path):
    config = tiny_config(str(tmp_path))
    config.batch_size = 128
    with pytest.raises(UserError, match="batch_size=128 is larger than the 96 training"):
        setup(config, str(tmp_path / "run"))


def test_transfer_guard_sees_no_host_copy_in_the_step(tiny_run):
    # The train state lives on device and a device-resident batch goes through a compiled
    # step with host transfers disallowed.
    config, workdir, _ = tiny_run
    run = setup(config, workdir)
    state = initial_state(run, checkpoints.create_manager(workdir, create=False))
    ids = np.arange(16, dtype=np.int32)
    batch = put_batch({"images": run.dataset.train.images[ids], "ids": ids}, make_mesh(), len(ids))
    step = compile_step(run)
    state, _ = step(state, batch)  # Compiles.
    with jax.transfer_guard("disallow"):
        state, metrics = step(state, batch)
    assert np.isfinite(float(metrics["loss"])) and step._cache_size() == 1

"""The training loop (`natjax.training.loop`): its batches, the steps it saves and logs, where
it resumes, and a loss gone non-finite, which stops it before anything bad is saved."""

import re

import numpy as np
import pytest

from configs.nat import get_config
from natjax import checkpoints, data
from natjax.errors import UserError
from natjax.training import batches, initial_state, loop, setup, train_and_evaluate
from tests.helpers import tiny_config


def test_saves_every_n_steps_and_at_epoch_ends_keeping_the_last_k(tiny_run):
    _, workdir, _ = tiny_run
    # Saved at 4, 6 (epoch end), 8 and 12 (epoch end and every 4); the latest 3 are kept.
    assert checkpoints.create_manager(workdir, create=False).all_steps() == [6, 8, 12]


def test_the_save_and_monitor_steps():
    assert [s for s in range(1, 13) if loop._is_save_step(s, 6, 4)] == [4, 6, 8, 12]
    assert [s for s in range(1, 13) if loop._is_save_step(s, 6, 0)] == [6, 12]
    every_two = get_config("smoke").eval
    every_two.monitor_every_epochs = 2
    assert [s for s in range(1, 25) if loop._is_monitor_step(s, 6, every_two)] == [12, 24]


def test_batches_are_the_epoch_order_from_any_step_with_labels_where_needed(tmp_path):
    config = tiny_config(str(tmp_path))
    run = setup(config, str(tmp_path / "run"))
    every = list(batches(run, 0))
    assert len(every) == run.total_steps == 18 and set(every[0]) == {"images", "ids"}
    ids = data.epoch_ids(96, 16, config.seed, 1)
    np.testing.assert_array_equal(every[6]["ids"], ids[0])
    np.testing.assert_array_equal(every[6]["images"], run.dataset.train.images[ids[0]])
    later = list(batches(run, 7))  # A resumed run's: the same batches from its step.
    assert len(later) == 11
    np.testing.assert_array_equal(later[0]["ids"], every[7]["ids"])
    config.objective = "supervised"
    labelled = next(batches(setup(config, str(tmp_path / "run")), 0))
    np.testing.assert_array_equal(labelled["labels"], run.dataset.train.labels[labelled["ids"]])
    assert loop.PREFETCH_BATCHES >= 1


def test_a_run_starts_at_step_zero_and_resumes_from_its_latest_checkpoint(tiny_run, tmp_path):
    config, workdir, summary = tiny_run
    fresh = setup(config, str(tmp_path / "fresh"))
    state = initial_state(fresh, checkpoints.create_manager(str(tmp_path / "fresh")))
    assert int(state.step) == 0
    np.testing.assert_array_equal(state.perm, np.arange(96))
    resumed = initial_state(setup(config, workdir), checkpoints.create_manager(workdir))
    assert int(resumed.step) == summary["steps"] == 12


def test_a_non_finite_loss_stops_the_run_naming_the_step_and_keeps_the_last_good_save(tmp_path):
    config = tiny_config(str(tmp_path))
    config.optim.learning_rate = 1e38  # Overflows the parameters within a few steps.
    workdir = str(tmp_path / "workdir")
    with pytest.raises(UserError, match=r"The loss became (nan|inf) at step (\d+)") as failure:
        train_and_evaluate(config, workdir)
    step = int(re.search(r"at step (\d+)", str(failure.value)).group(1))
    saved = checkpoints.create_manager(workdir, create=False).all_steps()
    assert all(s < step for s in saved)  # Nothing at or after the bad step was saved.


def test_a_loss_gone_bad_after_saves_stops_before_the_next_save(tmp_path, monkeypatch):
    real = loop.compile_step

    def poisoned(run):  # The real step, whose loss reads NaN from the 9th step on.
        step = real(run)

        def fn(state, batch):
            state, metrics = step(state, batch)
            return state, {**metrics, "loss": metrics["loss"] * (np.nan if state.step > 8 else 1)}

        return fn

    monkeypatch.setattr(loop, "compile_step", poisoned)
    config = tiny_config(str(tmp_path))
    workdir = str(tmp_path / "workdir")
    with pytest.raises(UserError, match="The loss became nan at step 12"):
        train_and_evaluate(config, workdir)
    # Saves at 4, 6 and 8 landed; step 12 (a save and log step) was checked first and not saved.
    assert checkpoints.create_manager(workdir, create=False).all_steps() == [4, 6, 8]

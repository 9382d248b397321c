"""Checkpoints: saved every few steps, resumed exactly after SIGKILL, corrupt ones set aside,
and a resumed run with another config refused."""

import errno
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from test_main import needs_fashion_mnist

from conftest import ROOT, tiny_config
from natjax import checkpointing
from natjax.config_checks import check_resume_config
from natjax.errors import Preempted, UserError
from natjax.state import TrainState
from natjax.train import assignment_sha256, initial_state, setup, train, train_and_evaluate


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny run: 2 epochs of 6 steps, saved every 4 steps and at epoch ends."""
    tmp = tmp_path_factory.mktemp("ckpt")
    config = tiny_config(str(tmp))
    config.num_epochs = 2
    workdir = str(tmp / "workdir")
    train_and_evaluate(config, workdir)
    return config, workdir


def test_saves_every_n_steps_and_at_epoch_ends_keeping_the_last_k(run_dir):
    _, workdir = run_dir
    # Saved at 4, 6 (epoch end), 8 and 12 (epoch end and every 4); the latest 3 are kept.
    assert checkpointing.create_manager(workdir, create=False).all_steps() == [6, 8, 12]


def test_a_corrupt_latest_checkpoint_is_set_aside_and_the_previous_one_used(
    run_dir, tmp_path, capsys
):
    config, workdir = run_dir
    copy = str(tmp_path / "copy")
    shutil.copytree(workdir, copy)
    for path in glob.glob(os.path.join(copy, "checkpoints", "12", "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "r+b") as f:
                f.truncate(max(os.path.getsize(path) // 3, 1))
                f.seek(0)
                f.write(b"\x00garbage")
    run = setup(config, copy)
    state = initial_state(run, checkpointing.create_manager(copy))
    assert int(state.step) == 8
    err = capsys.readouterr().err
    assert "the checkpoint at step 12 cannot be restored" in err
    assert "the previous one is used" in err
    assert os.path.isdir(os.path.join(copy, "checkpoints", "corrupt-12"))
    # Training on saves step 12 anew next to the set-aside copy.
    train_and_evaluate(config, copy)
    assert checkpointing.create_manager(copy, create=False).latest_step() == 12


def copy_of(workdir: str, tmp_path) -> tuple[str, list[str]]:
    """A copy of `workdir` and the entries of its `checkpoints/`."""
    copy = str(tmp_path / "copy")
    shutil.copytree(workdir, copy)
    return copy, sorted(os.listdir(os.path.join(copy, "checkpoints")))


def test_a_checkpoint_of_other_widths_is_refused_naming_the_arrays_and_kept(run_dir, tmp_path):
    config, workdir = run_dir
    copy, before = copy_of(workdir, tmp_path)
    wider = config.copy_and_resolve_references()
    wider.model.widths = (8, 32)
    run = setup(wider, copy)
    with pytest.raises(UserError) as refused:
        initial_state(run, checkpointing.create_manager(copy))
    message = str(refused.value)
    assert message.startswith("the checkpoint at step 12 in ")
    assert (
        "(model.batch_stats.encoder.BatchNorm_1.mean float32[16] saved, float32[32] here;"
        in message
    )
    assert "; and 7 more)" in message and "pass a new --workdir" in message
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before


def test_a_state_with_an_extra_params_entry_is_refused_naming_it(run_dir, tmp_path):
    config, workdir = run_dir
    copy, before = copy_of(workdir, tmp_path)
    run = setup(config, copy)
    manager = checkpointing.create_manager(copy)
    state = initial_state(run, manager)
    extra = state.replace(params={**state.params, "extra": jnp.zeros(3)})
    with pytest.raises(UserError, match=r"\(model\.params\.extra missing from the checkpoint\)"):
        checkpointing.restore_latest(manager, extra)
    fewer = state.replace(batch_stats={})
    with pytest.raises(UserError, match=r"model\.batch_stats\.encoder\.BatchNorm_0\.mean only in"):
        checkpointing.restore_latest(manager, fewer)
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before


def test_an_assignment_that_is_no_permutation_is_set_aside(run_dir, tmp_path, capsys):
    config, workdir = run_dir
    copy, _ = copy_of(workdir, tmp_path)
    manager = checkpointing.create_manager(copy)
    state = initial_state(setup(config, copy), manager)
    broken = state.replace(step=state.step + 1, perm=jnp.zeros_like(state.perm))
    checkpointing.save(manager, broken, {})
    checkpointing.wait(manager)
    assert int(checkpointing.restore_latest(manager, state).step) == 12
    assert (
        "step 13 cannot be restored (its assignment is not a permutation)"
        in capsys.readouterr().err
    )
    assert os.path.isdir(os.path.join(copy, "checkpoints", "corrupt-13"))


def test_resuming_with_another_config_is_refused_naming_the_keys(run_dir):
    config, workdir = run_dir
    changed = config.copy_and_resolve_references()
    changed.batch_size = 8
    changed.optim.learning_rate = 0.5
    with pytest.raises(UserError, match=r"another config \(batch_size 16 -> 8, optim"):
        train_and_evaluate(changed, workdir)
    harmless = config.copy_and_resolve_references()
    harmless.progress_bar, harmless.eval.knn_k = True, 3
    manager = checkpointing.create_manager(workdir, create=False)
    item = ocp.args.Composite(config=ocp.args.JsonRestore())
    saved = manager.restore(manager.latest_step(), args=item).config
    assert saved["batch_size"] == 16  # The checkpoint holds its config.
    check_resume_config(saved, harmless, workdir)  # Reporting keys may change.


def test_a_full_disk_during_a_save_is_one_sentence_and_keeps_earlier_checkpoints(
    tmp_path, monkeypatch
):
    config = tiny_config(str(tmp_path))
    config.num_epochs = 2
    workdir = str(tmp_path / "workdir")
    real_save, calls = ocp.CheckpointManager.save, []

    def save_until_the_disk_fills(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) == 3:  # Steps 4 and 6 are written; 8 finds the disk full.
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", save_until_the_disk_fills)
    with pytest.raises(UserError, match="No space left on device") as failure:
        train_and_evaluate(config, workdir)
    assert "checkpoint at step 8" in str(failure.value)
    assert "resumes from step 6" in str(failure.value)
    monkeypatch.undo()
    assert checkpointing.create_manager(workdir, create=False).all_steps() == [4, 6]
    assert train_and_evaluate(config, workdir)["steps"] == 12  # Rerun: resumes and finishes.


def smoke_cmd(workdir):
    return [
        sys.executable,
        "-m",
        "natjax.main",
        "--config=configs/nat.py:smoke",
        f"--workdir={workdir}",
        "--config.progress_bar=False",
        "--config.eval.baselines=False",
    ]


def saved_steps(workdir) -> list[str]:
    return (
        os.listdir(os.path.join(workdir, "checkpoints"))
        if os.path.isdir(os.path.join(workdir, "checkpoints"))
        else []
    )


def run_until(workdir, when) -> None:
    """Starts the smoke run and SIGKILLs it as soon as `when(entries of checkpoints/)`."""
    proc = subprocess.Popen(smoke_cmd(workdir), cwd=ROOT, stderr=subprocess.PIPE)
    while proc.poll() is None and not when(saved_steps(workdir)):
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def at_least(step: int):
    return lambda names: any(n.isdigit() and int(n) >= step for n in names)


def writing_after(step: int):
    """A checkpoint directory still being written (Orbax's temporary name) after `step`."""
    return lambda names: at_least(step)(names) and any("tmp" in n for n in names)


@needs_fashion_mnist
def test_sigkilled_and_resumed_run_is_bitwise_the_uninterrupted_one(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    out = subprocess.run(smoke_cmd(straight), cwd=ROOT, capture_output=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    run_until(killed, at_least(8))
    run_until(killed, writing_after(12))
    run_until(killed, at_least(24))
    out = subprocess.run(smoke_cmd(killed), cwd=ROOT, capture_output=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    a, b = (json.loads((d / "summary.json").read_text()) for d in (straight, killed))
    assert a["assignment_sha256"] == b["assignment_sha256"]
    assert a["final_loss"] == b["final_loss"] and b["steps"] == 32
    models = [
        checkpointing.create_manager(str(d), create=False).restore(32).model
        for d in (straight, killed)
    ]
    leaves = zip(*(jax.tree.leaves(m) for m in models), strict=True)
    assert all(np.array_equal(x, y) for x, y in leaves)


def test_a_non_finite_loss_stops_the_run_naming_the_step_and_keeps_the_last_good_save(tmp_path):
    config = tiny_config(str(tmp_path))
    config.optim.learning_rate = 1e38  # Overflows the parameters within a few steps.
    workdir = str(tmp_path / "workdir")
    with pytest.raises(UserError, match=r"The loss became (nan|inf) at step (\d+)") as failure:
        train_and_evaluate(config, workdir)
    step = int(re.search(r"at step (\d+)", str(failure.value)).group(1))
    saved = checkpointing.create_manager(workdir, create=False).all_steps()
    assert all(s < step for s in saved)  # Nothing at or after the bad step was saved.


def test_a_loss_gone_bad_after_saves_stops_before_the_next_save(tmp_path, monkeypatch):
    from natjax import train

    real = train.compile_step

    def poisoned(run):  # The real step, whose loss reads NaN from the 9th step on.
        step = real(run)

        def fn(state, batch):
            state, metrics = step(state, batch)
            return state, {**metrics, "loss": metrics["loss"] * (np.nan if state.step > 8 else 1)}

        return fn

    monkeypatch.setattr(train, "compile_step", poisoned)
    config = tiny_config(str(tmp_path))
    workdir = str(tmp_path / "workdir")
    with pytest.raises(UserError, match="The loss became nan at step 12"):
        train_and_evaluate(config, workdir)
    # Saves at 4, 6 and 8 landed; step 12 (a save and log step) was checked first and not saved.
    assert checkpointing.create_manager(workdir, create=False).all_steps() == [4, 6, 8]


def test_a_run_saved_before_data_subset_resumes_unless_it_drew_a_subset(tmp_path):
    """Old runs read as data.subset="first": that matters only where a subset was drawn."""
    from configs.nat import get_config
    from natjax.encoder_io import upgrade_config

    config = get_config()
    old = json.loads(config.to_json_best_effort())
    del old["data"]["subset"], old["data"]["subset_seed"]
    check_resume_config(upgrade_config(old), config, str(tmp_path))
    old["data"]["max_train_examples"] = config.data.max_train_examples = 100
    with pytest.raises(UserError, match="data.subset 'first' -> 'random'"):
        check_resume_config(upgrade_config(old), config, str(tmp_path))


def train_only(config, workdir) -> TrainState:
    """The run's training alone (resuming from `workdir`'s checkpoints), no evaluation."""
    run = setup(config, str(workdir))
    manager = checkpointing.create_manager(str(workdir))
    state, _ = train(run, initial_state(run, manager), manager)
    return state


def assert_same_state(a: TrainState, b: TrainState) -> None:
    assert int(a.step) == int(b.step)
    assert assignment_sha256(a.perm) == assignment_sha256(b.perm)
    leaves = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    assert all(np.array_equal(x, y) for x, y in leaves)


def test_sigterm_saves_the_step_in_flight_and_resuming_gives_the_uninterrupted_run(
    tmp_path, monkeypatch
):
    from natjax import train as train_module

    config = tiny_config(str(tmp_path))
    config.checkpoint.every_steps = 0  # Saves at epoch ends only: 6, 12, 18.
    straight = train_only(config, tmp_path / "straight")
    real = train_module.compile_step

    def sigterm_during_the_fifth_step(run):
        step = real(run)

        def fn(state, batch):
            if int(state.step) == 4:
                os.kill(os.getpid(), signal.SIGTERM)
            return step(state, batch)

        return fn

    previous = []  # The test's own handler: it must be back in place once training ends.
    signal.signal(signal.SIGTERM, lambda *_: previous.append("called"))
    monkeypatch.setattr(train_module, "compile_step", sigterm_during_the_fifth_step)
    workdir = tmp_path / "preempted"
    with pytest.raises(Preempted, match="stopped after step 5 and saved it in") as stopped:
        train_only(config, workdir)
    assert stopped.value.step == 5 and not previous
    assert checkpointing.create_manager(str(workdir), create=False).all_steps() == [5]
    os.kill(os.getpid(), signal.SIGTERM)
    assert previous == ["called"]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    monkeypatch.undo()
    assert_same_state(train_only(config, workdir), straight)


def logged_steps(workdir) -> list[int]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line)["step"] for line in f if line.endswith("\n")]


PREEMPT_FLAGS = (  # Logs every step (so every step run shows), saves at epoch ends only.
    "--config.log_every_steps=1",
    "--config.checkpoint.every_steps=0",
    "--config.eval.monitor_every_epochs=0",
)


def preempt_config():
    """The smoke preset as `smoke_cmd` and `PREEMPT_FLAGS` set it."""
    from configs.nat import get_config

    config = get_config("smoke")
    config.update(progress_bar=False, log_every_steps=1)
    config.checkpoint.every_steps = 0
    config.eval.update(baselines=False, monitor_every_epochs=0)
    return config


def wait_for_step(procs, workdir, step: int) -> int:
    """Waits until the run has logged `step`; returns the last step logged."""
    while all(p.poll() is None for p in procs) and max(logged_steps(workdir), default=0) < step:
        time.sleep(0.005)
    assert all(p.poll() is None for p in procs), "the run ended before the signal"
    return max(logged_steps(workdir))


@needs_fashion_mnist
def test_sigterm_stops_the_smoke_run_at_the_step_in_flight_and_it_resumes_bitwise(tmp_path):
    workdir = tmp_path / "preempted"
    at = random.randint(3, 12)  # A step before the first save (16, the epoch end).
    proc = subprocess.Popen(
        [*smoke_cmd(workdir), *PREEMPT_FLAGS], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    logged = wait_for_step([proc], workdir, at)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == Preempted.EXIT_CODE, err[-2000:]
    saved = int(re.search(r"stopped after step (\d+)", err).group(1))
    assert (
        f"natjax: preempted (SIGTERM): stopped after step {saved} and saved it in "
        f"{workdir}/checkpoints; run the same command again to resume from step {saved}.\n"
    ) in err
    # The step logged (when its iteration had not ended) or the one after it (in flight then).
    assert logged <= saved <= logged + 2, (at, logged, saved)
    assert checkpointing.create_manager(str(workdir), create=False).all_steps() == [saved]
    assert max(logged_steps(workdir)) == saved  # No step ran beyond the one saved.
    config = preempt_config()
    assert_same_state(train_only(config, workdir), train_only(config, tmp_path / "straight"))


@needs_fashion_mnist
def test_hosts_agree_on_the_step_when_sigterm_reaches_only_one(tmp_path):
    from test_scale_out import free_port

    port, workdir = free_port(), tmp_path / "two"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    hosts = [f"--coordinator_address=localhost:{port}", "--num_processes=2"]
    procs = [
        subprocess.Popen(
            [*smoke_cmd(workdir), *PREEMPT_FLAGS, *hosts, f"--process_id={i}"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        wait_for_step(procs, workdir, 4)
        procs[1].send_signal(signal.SIGTERM)  # Process 0 hears of it only through JAX's service.
        errs = [p.communicate(timeout=120)[1] for p in procs]  # Hosts that disagree hang.
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    steps = []
    for p, err in zip(procs, errs, strict=True):
        assert p.returncode == Preempted.EXIT_CODE, err[-2000:]
        steps.append(int(re.search(r"stopped after step (\d+) and saved it", err).group(1)))
    assert steps[0] == steps[1] < 32
    assert checkpointing.create_manager(str(workdir), create=False).latest_step() == steps[0]
    assert max(logged_steps(workdir)) == steps[0]  # Process 0 ran no step beyond it.


def test_export_and_evaluate_name_a_layout_mismatch_or_an_unreadable_checkpoint(run_dir, tmp_path):
    """`restore_model` (what export and evaluation read) refuses another layout in one
    sentence, and an unreadable checkpoint in another; neither moves anything."""
    from natjax.encoder_io import abstract_variables, read_run

    _, workdir = run_dir
    copy, before = copy_of(workdir, tmp_path)
    config, image_shape = read_run(copy)
    config.model.widths = (8, 32)
    wider = abstract_variables(config, image_shape)
    with pytest.raises(UserError, match=r"float32\[16\] saved, float32\[32\] here.*natjax version"):
        checkpointing.restore_model(copy, None, wider)
    config.model.widths = tuple(read_run(copy)[0].model.widths)
    like = abstract_variables(config, image_shape)
    step_dir = os.path.join(copy, "checkpoints", str(checkpointing.latest_step(copy)))
    for path in glob.glob(os.path.join(step_dir, "model", "**", "*"), recursive=True):
        if os.path.isfile(path) and "metadata" not in os.path.basename(path):
            with open(path, "wb") as f:
                f.write(b"garbage")
    with pytest.raises(UserError, match=r"cannot be read \(.*\); pass another step"):
        checkpointing.restore_model(copy, None, like)
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before

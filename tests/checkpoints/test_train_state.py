"""Checkpoints of the train state (`natjax.checkpoints.train_state`): resumed exactly after
SIGKILL, corrupt ones set aside, one of another layout refused naming the arrays, and a full
disk told in one sentence that keeps the earlier checkpoints."""

import errno
import glob
import json
import os
import signal
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from natjax import checkpoints
from natjax.checkpoints import abstract_variables, read_run
from natjax.checkpoints.train_state import is_permutation, verify_permutation
from natjax.errors import UserError
from natjax.training import initial_state, setup, train_and_evaluate
from tests.helpers import ROOT, copy_run, smoke_cmd, tiny_config, train_only


def test_a_corrupt_latest_checkpoint_is_set_aside_and_the_previous_one_used(
    tiny_run, tmp_path, capsys
):
    copy, _ = copy_run(tiny_run, tmp_path)
    for path in glob.glob(os.path.join(copy, "checkpoints", "12", "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "r+b") as f:
                f.truncate(max(os.path.getsize(path) // 3, 1))
                f.seek(0)
                f.write(b"\x00garbage")
    run = setup(tiny_run.config, copy)
    state = initial_state(run, checkpoints.create_manager(copy))
    assert int(state.step) == 8
    err = capsys.readouterr().err
    assert "the checkpoint at step 12 cannot be restored" in err
    assert "the previous one is used" in err
    assert os.path.isdir(os.path.join(copy, "checkpoints", "corrupt-12"))
    # Training on saves step 12 anew next to the set-aside copy.
    assert int(train_only(tiny_run.config, copy).step) == 12
    assert checkpoints.create_manager(copy, create=False).latest_step() == 12


def test_when_every_checkpoint_is_truncated_each_is_one_line_and_the_run_starts_over(
    tiny_run, tmp_path, capfd
):
    copy, _ = copy_run(tiny_run, tmp_path)
    steps = checkpoints.create_manager(copy, create=False).all_steps()
    for step in steps:
        model = os.path.join(copy, "checkpoints", str(step), "model")
        files = glob.glob(os.path.join(model, "**", "d", "*"), recursive=True)
        os.truncate(max(files, key=os.path.getsize), 1000)
    capfd.readouterr()
    state = initial_state(setup(tiny_run.config, copy), checkpoints.create_manager(copy))
    assert int(state.step) == 0
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == len(steps), lines
    for line, step in zip(lines, sorted(steps, reverse=True), strict=True):
        assert line.startswith(
            f"natjax: warning: the checkpoint at step {step} cannot be restored ("
        )
        assert "<bound method" not in line and "TensorStore details" not in line
    assert lines[-1].endswith("no earlier one is left, so the run starts from step 0.")
    assert all(line.endswith("the previous one is used.") for line in lines[:-1])


def flip_bytes(item_dir: str) -> str:
    """Overwrites 8 bytes in the middle of the largest data file under `item_dir` (an Orbax
    item or export), as a failing disk would; returns the file."""
    files = glob.glob(os.path.join(item_dir, "**", "d", "*"), recursive=True)
    path = max(files, key=os.path.getsize)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\x7f" * 8)
    return path


def test_flipped_bytes_in_a_checkpoint_set_it_aside_and_the_previous_one_is_used(
    tiny_run, tmp_path, capsys
):
    copy, _ = copy_run(tiny_run, tmp_path)
    flip_bytes(os.path.join(copy, "checkpoints", "12", "model"))
    manager = checkpoints.create_manager(copy)
    state = initial_state(setup(tiny_run.config, copy), manager)
    assert int(state.step) == 8
    err = capsys.readouterr().err
    assert "the checkpoint at step 12 cannot be restored (params." in err
    assert "does not match the checksum saved with it)" in err  # Orbax reads it without a word.
    assert os.path.isdir(os.path.join(copy, "checkpoints", "corrupt-12"))


def test_an_array_unlike_its_checksum_is_named_and_set_aside(tiny_run, tmp_path, capsys):
    copy, _ = copy_run(tiny_run, tmp_path)
    path = os.path.join(copy, "checkpoints", "12", "checksums", "metadata")
    with open(path) as f:
        saved = json.load(f)
    saved["train"]["opt_state.0.trace.encoder.Conv_0.kernel"] = "0" * 16
    with open(path, "w") as f:
        json.dump(saved, f)
    state = initial_state(setup(tiny_run.config, copy), checkpoints.create_manager(copy))
    assert int(state.step) == 8
    assert (
        "step 12 cannot be restored (opt_state.0.trace.encoder.Conv_0.kernel does not match "
        "the checksum saved with it)" in capsys.readouterr().err
    )
    with open(os.path.join(copy, "checkpoints", "8", "checksums", "metadata")) as f:
        assert set(json.load(f)) == {"model", "train"}


def test_a_checkpoint_of_other_widths_is_refused_naming_the_arrays_and_kept(tiny_run, tmp_path):
    copy, before = copy_run(tiny_run, tmp_path)
    wider = tiny_run.config.copy_and_resolve_references()
    wider.model.widths = (8, 32)
    run = setup(wider, copy)
    with pytest.raises(UserError) as refused:
        initial_state(run, checkpoints.create_manager(copy))
    message = str(refused.value)
    assert message.startswith("the checkpoint at step 12 in ")
    assert (
        "(model.batch_stats.encoder.BatchNorm_1.mean float32[16] saved, float32[32] here;"
        in message
    )
    assert "; and 7 more)" in message and "pass a new --workdir" in message
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before


def test_a_state_with_an_extra_params_entry_is_refused_naming_it(tiny_run, tmp_path):
    copy, before = copy_run(tiny_run, tmp_path)
    run = setup(tiny_run.config, copy)
    manager = checkpoints.create_manager(copy)
    state = initial_state(run, manager)
    extra = state.replace(params={**state.params, "extra": jnp.zeros(3)})
    with pytest.raises(UserError, match=r"\(model\.params\.extra missing from the checkpoint\)"):
        checkpoints.restore_latest(manager, extra)
    fewer = state.replace(batch_stats={})
    with pytest.raises(UserError, match=r"model\.batch_stats\.encoder\.BatchNorm_0\.mean only in"):
        checkpoints.restore_latest(manager, fewer)
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before


def test_an_assignment_that_is_no_permutation_is_set_aside(tiny_run, tmp_path, capsys):
    copy, _ = copy_run(tiny_run, tmp_path)
    manager = checkpoints.create_manager(copy)
    state = initial_state(setup(tiny_run.config, copy), manager)
    broken = state.replace(step=state.step + 1, perm=jnp.zeros_like(state.perm))
    checkpoints.save(manager, broken, {})
    checkpoints.wait(manager)
    assert int(checkpoints.restore_latest(manager, state).step) == 12
    assert (
        "step 13 cannot be restored (its assignment is not a permutation)"
        in capsys.readouterr().err
    )
    assert os.path.isdir(os.path.join(copy, "checkpoints", "corrupt-13"))


def test_nats_layout_saves_no_extra_and_an_objectives_state_is_its_own_item(tiny_run):
    config, workdir, _ = tiny_run
    state = initial_state(setup(config, workdir), checkpoints.create_manager(workdir))
    model, train = checkpoints.train_state._items(state)
    assert set(model) == {"params", "batch_stats"}
    assert set(train) == {"step", "opt_state", "perm", "rng"}
    _, with_extra = checkpoints.train_state._items(state.replace(extra={"bank": jnp.ones(2)}))
    assert set(with_extra["extra"]) == {"bank"}


def test_a_permutation_is_verified():
    assert is_permutation(np.array([2, 0, 1])) and not is_permutation(np.array([0, 0, 1]))
    assert not is_permutation(np.zeros((2, 2), int))
    verify_permutation(np.array([1, 0]), "test")
    with pytest.raises(UserError, match=r"The assignment in here is not a permutation of \[0, 2\)"):
        verify_permutation(np.array([1, 1]), "here")


# How tensorstore reports a full disk (seen on a 5 MB tmpfs): a ValueError, not an OSError.
TENSORSTORE_FULL = ValueError(
    'RESOURCE_EXHAUSTED: Error writing "params.encoder.Conv_0.kernel/0.0.0.0" in OCDBT '
    "database: Failed to write 73673 bytes to file 8: No space left on device "
    "[os_error_code='28']"
)


@pytest.mark.parametrize(
    "full", [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), TENSORSTORE_FULL]
)
def test_a_full_disk_during_a_save_is_one_sentence_and_keeps_earlier_checkpoints(
    tmp_path, monkeypatch, full
):
    config = tiny_config(str(tmp_path))
    config.num_epochs = 2
    workdir = str(tmp_path / "workdir")
    real_save, calls = ocp.CheckpointManager.save, []

    def save_until_the_disk_fills(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) == 3:  # Steps 4 and 6 are written; 8 finds the disk full.
            raise full
        return real_save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", save_until_the_disk_fills)
    with pytest.raises(UserError, match="No space left on device") as failure:
        train_and_evaluate(config, workdir)
    assert "checkpoint at step 8" in str(failure.value)
    assert "resumes from step 6" in str(failure.value)
    assert "(a checkpoint takes 0." in str(failure.value)  # The tiny run's are 0.1 MB.
    assert len(str(failure.value).splitlines()) == 1
    monkeypatch.undo()
    assert checkpoints.create_manager(workdir, create=False).all_steps() == [4, 6]
    assert int(train_only(config, workdir).step) == 12  # Rerun: resumes and finishes.


def test_export_and_evaluate_name_a_layout_mismatch_or_an_unreadable_checkpoint(tiny_run, tmp_path):
    """`restore_model` (what export and evaluation read) refuses another layout in one
    sentence, and an unreadable checkpoint in another; neither moves anything."""
    copy, before = copy_run(tiny_run, tmp_path)
    config, image_shape = read_run(copy)
    config.model.widths = (8, 32)
    wider = abstract_variables(config, image_shape)
    with pytest.raises(UserError, match=r"float32\[16\] saved, float32\[32\] here.*natjax version"):
        checkpoints.restore_model(copy, None, wider)
    config.model.widths = tuple(read_run(copy)[0].model.widths)
    like = abstract_variables(config, image_shape)
    with pytest.raises(UserError, match=r"has no checkpoint at step 5; it has \[6, 8, 12\]"):
        checkpoints.restore_model(copy, 5, like)
    assert checkpoints.latest_step(copy) == 12 and checkpoints.latest_step(str(tmp_path)) is None
    step_dir = os.path.join(copy, "checkpoints", str(checkpoints.latest_step(copy)))
    for path in glob.glob(os.path.join(step_dir, "model", "**", "*"), recursive=True):
        if os.path.isfile(path) and "metadata" not in os.path.basename(path):
            with open(path, "wb") as f:
                f.write(b"garbage")
    with pytest.raises(UserError, match=r"cannot be read \(.*\); pass another step"):
        checkpoints.restore_model(copy, None, like)
    assert sorted(os.listdir(os.path.join(copy, "checkpoints"))) == before


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


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
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
        checkpoints.create_manager(str(d), create=False).restore(32).model
        for d in (straight, killed)
    ]
    leaves = zip(*(jax.tree.leaves(m) for m in models), strict=True)
    assert all(np.array_equal(x, y) for x, y in leaves)

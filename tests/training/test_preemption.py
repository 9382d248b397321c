"""Preemption (`natjax.training.preemption`): on SIGTERM a run saves the step it reached and
stops, every host at the same step, and resuming gives the uninterrupted run, bit for bit,
with every kind of objective state."""

import os
import random
import re
import signal
import subprocess
import time

import jax
import pytest

from natjax import checkpoints
from natjax.errors import Preempted
from natjax.training import loop
from natjax.training.preemption import Preemption
from tests.helpers import (
    PREEMPT_FLAGS,
    ROOT,
    assert_same_state,
    free_port,
    logged_steps,
    preempt_config,
    smoke_cmd,
    tiny_config,
    train_only,
    wait_for_step,
)


def test_the_handler_notes_sigterm_and_close_puts_the_previous_one_back(tmp_path):
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda *_: calls.append("mine"))
    try:
        manager = checkpoints.create_manager(str(tmp_path))
        preempted = Preemption(manager)
        assert not preempted(1)
        os.kill(os.getpid(), signal.SIGTERM)
        assert preempted(2) and calls == []  # Noted, and nothing else done.
        preempted.close()
        os.kill(os.getpid(), signal.SIGTERM)
        assert calls == ["mine"]
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sigterm_during(number: int):
    """`loop.compile_step` whose step sends SIGTERM to this process as it starts step
    `number` (1-based: the step that ends with `number` steps done)."""
    real = loop.compile_step

    def compile_step(run):
        step = real(run)

        def fn(state, batch):
            if int(state.step) == number - 1:
                os.kill(os.getpid(), signal.SIGTERM)
            return step(state, batch)

        return fn

    return compile_step


def test_sigterm_saves_the_step_in_flight_and_resuming_gives_the_uninterrupted_run(
    tmp_path, monkeypatch
):
    config = tiny_config(str(tmp_path))
    config.checkpoint.every_steps = 0  # Saves at epoch ends only: 6, 12, 18.
    straight = train_only(config, tmp_path / "straight")
    previous = []  # The test's own handler: it must be back in place once training ends.
    signal.signal(signal.SIGTERM, lambda *_: previous.append("called"))
    monkeypatch.setattr(loop, "compile_step", _sigterm_during(5))
    workdir = tmp_path / "preempted"
    with pytest.raises(Preempted, match="stopped after step 5 and saved it in") as stopped:
        train_only(config, workdir)
    assert stopped.value.step == 5 and not previous
    assert checkpoints.create_manager(str(workdir), create=False).all_steps() == [5]
    os.kill(os.getpid(), signal.SIGTERM)
    assert previous == ["called"]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    monkeypatch.undo()
    assert_same_state(train_only(config, workdir), straight)


def test_a_stop_inside_a_later_reassignment_epoch_resumes_bitwise(tmp_path, monkeypatch):
    """As the default preset stops inside epoch 9 of `reassign_every=3`: here epoch 2 of
    `reassign_every=2` (epochs 0 and 2 re-assign), at step 14, neither a save step nor an epoch
    end, with the steps between the last save and the stop re-assigning."""
    config = tiny_config(str(tmp_path))
    config.nat.reassign_every = 2
    config.checkpoint.every_steps = 0  # Saves at epoch ends only: 6, 12, 18.
    straight = train_only(config, tmp_path / "straight")
    monkeypatch.setattr(loop, "compile_step", _sigterm_during(14))
    workdir = tmp_path / "preempted"
    with pytest.raises(Preempted) as stopped:
        train_only(config, workdir)
    assert stopped.value.step == 14
    assert checkpoints.create_manager(str(workdir), create=False).all_steps() == [6, 12, 14]
    monkeypatch.undo()
    assert_same_state(train_only(config, workdir), straight)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_sent_from_the_device_is_honoured_within_two_steps_and_resumes_bitwise(
    tmp_path, monkeypatch, signum
):
    """The signal goes out from the device itself once it has done `at` steps. The device is
    made slow (each step's callback sleeps) and no log step makes the host wait, so only the
    bound on how far the host runs ahead keeps the stop close."""
    config = tiny_config(str(tmp_path))
    config.checkpoint.every_steps = 0  # Saves at epoch ends only: 6, 12, 18.
    config.log_every_steps = 1000
    straight = train_only(config, tmp_path / "straight")
    real, at = loop.compile_step, 7

    def send(steps_done):
        time.sleep(0.05)
        if int(steps_done) == at:
            os.kill(os.getpid(), signum)

    ping = jax.jit(lambda steps_done: jax.debug.callback(send, steps_done))

    def signalling_from_the_device(run):
        step = real(run)

        def fn(state, batch):
            state, metrics = step(state, batch)
            ping(state.step)  # Runs on the device once this step is done.
            return state, metrics

        return fn

    monkeypatch.setattr(loop, "compile_step", signalling_from_the_device)
    before, workdir = signal.getsignal(signum), tmp_path / "stopped"
    with pytest.raises(Preempted, match=rf"\({signal.Signals(signum).name}\): stopped") as e:
        train_only(config, workdir)
    assert signal.getsignal(signum) is before
    assert at <= e.value.step <= at + 2, f"stopped {e.value.step - at} steps after the signal"
    assert checkpoints.create_manager(str(workdir), create=False).all_steps() == [6, e.value.step]
    monkeypatch.undo()
    assert_same_state(train_only(config, workdir), straight)


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
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
    assert checkpoints.create_manager(str(workdir), create=False).all_steps() == [saved]
    assert max(logged_steps(workdir)) == saved  # No step ran beyond the one saved.
    config = preempt_config()
    assert_same_state(train_only(config, workdir), train_only(config, tmp_path / "straight"))


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_hosts_agree_on_the_step_when_sigterm_reaches_only_one(tmp_path):
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
    assert checkpoints.create_manager(str(workdir), create=False).latest_step() == steps[0]
    assert max(logged_steps(workdir)) == steps[0]  # Process 0 ran no step beyond it.


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
@pytest.mark.parametrize(
    "name, kept",
    [
        # Every kind of state kept in the step: own parameters, their optimizer state, a target.
        ("byol", {"params", "opt_state", "target"}),
        # State remade outside the step, by k-means before each epoch: the run is killed in the
        # first epoch, its labels come back from the checkpoint, the second epoch's pass repeats.
        ("deepcluster", {"labels", "weights", "params", "opt_state"}),
    ],
)
def test_a_killed_run_resumes_bitwise_with_its_objectives_state(tmp_path, name, kept):
    """SIGTERM mid-epoch, resume: the uninterrupted run's state, bit for bit."""
    workdir = tmp_path / "preempted"
    cmd = [*smoke_cmd(workdir), *PREEMPT_FLAGS, f"--config.objective={name}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for_step([proc], workdir, 5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == Preempted.EXIT_CODE, err[-2000:]
    config = preempt_config()
    config.objective = name
    resumed, straight = (train_only(config, d) for d in (workdir, tmp_path / "straight"))
    assert set(resumed.extra) == kept
    assert_same_state(resumed, straight)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_run_decoding_in_grains_workers_stopped_by_a_signal_resumes_bitwise(tmp_path, signum):
    """A folder left as files (`in_memory_gb=0`): its batches are decoded in grain's worker
    processes. SIGKILL (no save) after a checkpoint, or SIGTERM (a save, the sentence), then
    resume: the uninterrupted run, bit for bit, since the pipeline from a step is a pure
    function of (seed, step)."""
    from natjax.bench.decode import write_folder

    data = write_folder(str(tmp_path / "jpegs"), n=48, side=16)
    flags = {
        "data.source": f"folder:{data}",
        "data.in_memory_gb": 0.0,
        "data.image_size": 16,
        "data.max_train_examples": 0,
        "data.max_test_examples": 0,
        "data.decode_workers": 2,
        "batch_size": 8,
        "num_epochs": 2,  # 12 steps.
        "checkpoint.every_steps": 2,
    }
    workdir = tmp_path / "killed"
    cmd = [*smoke_cmd(workdir), *PREEMPT_FLAGS, *(f"--config.{k}={v}" for k, v in flags.items())]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for_step([proc], workdir, 5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    stopped = -signal.SIGKILL if signum == signal.SIGKILL else Preempted.EXIT_CODE
    assert proc.returncode == stopped, err[-2000:]
    assert signum == signal.SIGKILL or err.strip().splitlines()[-1].startswith("natjax: preempted")
    saved = checkpoints.create_manager(str(workdir), create=False).latest_step()
    assert saved is not None and 2 <= saved < 12
    config = preempt_config()
    for key, value in flags.items():
        section, _, name = key.rpartition(".")
        (config[section] if section else config)[name] = value
    resumed, straight = (train_only(config, d) for d in (workdir, tmp_path / "straight"))
    assert int(resumed.step) == 12
    assert_same_state(resumed, straight)


@pytest.mark.slow
def test_sigterm_during_the_evaluation_is_the_preemption_sentence_and_the_rerun_evaluates(
    tmp_path,
):
    """Past the last step there is no step to stop at: the signal stops the evaluation at once,
    with the sentence (before: killed by SIGTERM, status -15, nothing said)."""
    workdir = tmp_path / "run"
    proc = subprocess.Popen(smoke_cmd(workdir), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    last = workdir / "checkpoints" / "32"  # The smoke run's last step, saved as training ends.
    while proc.poll() is None and not last.exists():
        time.sleep(0.05)
    time.sleep(2.0)  # Into the evaluation, which takes longer than this on any machine.
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == Preempted.EXIT_CODE, err[-2000:]
    assert "natjax: preempted (SIGTERM): stopped after step 32" in err
    assert not (workdir / "summary.json").exists()
    done = subprocess.run(smoke_cmd(workdir), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (workdir / "summary.json").exists()

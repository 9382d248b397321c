"""One run per workdir (`natjax.checkpoints.lock`): a second run is refused in one sentence
naming the first, and a killed run leaves no lock behind."""

import os
import signal
import subprocess
import sys

import pytest

from natjax.checkpoints import workdir_lock
from natjax.errors import UserError
from natjax.training import train_and_evaluate
from tests.helpers import ROOT, tiny_config

HOLD = "import sys; from natjax.checkpoints import workdir_lock\n" + (
    "with workdir_lock(sys.argv[1]):\n    print('held', flush=True)\n    sys.stdin.read()"
)


def test_a_live_lock_refuses_a_second_run_and_a_killed_one_leaves_none(tmp_path):
    workdir = str(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, workdir],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(UserError) as refused, workdir_lock(workdir):
            pass
        assert str(refused.value).startswith(
            f"--workdir={workdir} is in use by another run (process {holder.pid} on "
        )
        assert str(refused.value).endswith(
            "wait for it to end or stop it, or pass another --workdir."
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with workdir_lock(workdir):  # The kernel dropped the killed run's lock.
        pass
    with workdir_lock(workdir):  # And a run that ended released its own.
        pass


def test_training_on_a_workdir_in_use_is_refused_before_it_writes(tmp_path):
    workdir = str(tmp_path / "run")
    with workdir_lock(workdir), pytest.raises(UserError, match="is in use by another run"):
        train_and_evaluate(tiny_config(str(tmp_path)), workdir)
    assert sorted(os.listdir(workdir)) == [".lock"]


def test_an_unwritable_workdir_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        pytest.raises(UserError, match=r"Cannot write to --workdir=.*; pass a writable"),
        workdir_lock(str(blocker / "run")),
    ):
        pass

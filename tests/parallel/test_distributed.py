"""Multi-host start-up (`natjax.parallel.distributed`): when the cluster's environment is
used, the flags' mistakes, and a training command that leaves the backends to it."""

import subprocess
import sys

import pytest

from configs.nat import get_config
from natjax.errors import UserError
from natjax.parallel import distributed
from tests.helpers import ROOT


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1"}, False),
        ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "4"}, True),
        ({"SLURM_NTASKS": "4"}, False),
        ({"TPU_WORKER_HOSTNAMES": "localhost"}, False),
        ({"TPU_WORKER_HOSTNAMES": "w0,w1,w2,w3"}, True),
    ],
)
def test_in_cluster(environ, expected):
    assert distributed.in_cluster(environ) is expected


def test_incomplete_flags_are_one_sentence():
    with pytest.raises(UserError, match="needs all of --coordinator_address"):
        distributed.initialize(None, 2, None)
    with pytest.raises(UserError, match="needs all of --coordinator_address"):
        distributed.initialize("localhost:1234", 2, None)


def test_one_process_agrees_with_itself():
    assert distributed.differing_processes("anything") == []
    distributed.check_same_config(get_config("smoke"))
    distributed.check_same_assignment("digest")


def test_importing_the_training_command_leaves_the_backends_to_jax_distributed():
    """`jax.distributed.initialize` must run before any JAX computation: no module the training
    command imports may make an array at import time (a multi-host run would fail to start)."""
    code = (
        "import natjax.main\n"
        "from jax._src import xla_bridge\n"
        "print(xla_bridge.backends_are_initialized())"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_one_process_on_one_machine_joins_nothing(monkeypatch):
    joined = []
    monkeypatch.setattr(distributed.jax.distributed, "initialize", lambda *a: joined.append(a))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("TPU_WORKER_HOSTNAMES", raising=False)
    distributed.initialize(None, None, None)
    assert joined == []
    distributed.initialize("localhost:1234", 2, 1)
    assert joined == [("localhost:1234", 2, 1)]

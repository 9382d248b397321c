"""Multi-host start-up: when the cluster's environment is used, and the flags' mistakes."""

import subprocess
import sys

import pytest

from conftest import ROOT
from natjax import distributed
from natjax.errors import UserError


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
    from configs.nat import get_config

    assert distributed.differing_processes("anything") == []
    distributed.check_same_config(get_config("smoke"))


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

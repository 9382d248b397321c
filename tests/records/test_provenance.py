"""Provenance (`natjax.records.provenance`): the command as typed, the commit of this checkout
and its dirty flag, the machine, the versions and a hash that tells configs apart."""

import subprocess

from natjax.records import provenance
from tests.helpers import ROOT, tiny_config


def test_the_command_is_written_as_typed_with_python_for_the_interpreter():
    argv = ["/opt/bin/python3.11", "-m", "natjax.main", "--config=configs/nat.py:smoke", "a b"]
    assert provenance.command_line(argv) == (
        "python -m natjax.main --config=configs/nat.py:smoke 'a b'"
    )


def test_the_commit_and_dirty_flag_are_this_checkouts():
    head = subprocess.run(
        ["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    status = subprocess.run(
        ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert provenance.code_version() == {"commit": head, "dirty": bool(status)}


def test_everything_a_reader_needs_is_there(tmp_path):
    config = tiny_config(str(tmp_path))
    found = provenance.collect(seed=3, config=config, wall_seconds=12.34)
    assert found["seed"] == 3 and found["wall_seconds"] == 12.3
    assert found["machine"]["cores"] >= 1 and found["machine"]["platform"] == "cpu"
    assert found["versions"]["jax"] and found["versions"]["flax"]
    assert found["date"].endswith("+00:00")


def test_the_config_hash_tells_configs_apart(tmp_path):
    a, b = tiny_config(str(tmp_path)), tiny_config(str(tmp_path))
    assert provenance.config_hash(a) == provenance.config_hash(b)
    b.seed += 1
    assert provenance.config_hash(a) != provenance.config_hash(b)

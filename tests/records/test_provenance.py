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
    code = [line for line in status.splitlines() if not line[3:].startswith("results/")]
    assert provenance.code_version() == {"commit": head, "dirty": bool(code)}


def test_changed_records_do_not_make_the_code_dirty_and_changed_code_does(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "natjax").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "natjax" / "step.py").write_text("a = 1\n")
    (tmp_path / "results" / "old.json").write_text("{}\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=n", "-c", "user.email=e@x", "commit", "-qm", "first")
    monkeypatch.setattr(provenance, "_SOURCE", str(tmp_path / "natjax"))
    (tmp_path / "results" / "old.json").unlink()  # As a benchmark recording again does.
    assert provenance.code_version()["dirty"] is False
    (tmp_path / "natjax" / "step.py").write_text("a = 2\n")
    assert provenance.code_version()["dirty"] is True


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

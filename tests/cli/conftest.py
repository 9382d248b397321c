"""The `command` fixture: a command-line front-end run in-process (its flags are absl's global
ones, so each test imports the module afresh and removes the flags it defined)."""

import importlib
import sys

import absl.logging  # noqa: F401 (absl's own flags exist before the snapshot)
import pytest
from absl import flags

import natjax.cli.flags


@pytest.fixture
def command(monkeypatch):
    """`command(name, *args)`: `natjax.cli.NAME` imported afresh, its flags parsed from `args`
    as `python -m natjax.NAME ARGS` would (the config overrides are read from sys.argv)."""
    before = set(flags.FLAGS)
    loaded = []

    def load(name: str, *args: str):
        argv = [f"natjax.{name}", *args]
        monkeypatch.setattr(sys, "argv", argv)
        sys.modules.pop(f"natjax.cli.{name}", None)
        module = importlib.import_module(f"natjax.cli.{name}")
        loaded.append(module.__name__)
        natjax.cli.flags.parse_flags(argv)
        return module

    yield load
    for name in set(flags.FLAGS) - before:
        delattr(flags.FLAGS, name)
    flags.FLAGS.unparse_flags()
    for name in loaded:
        sys.modules.pop(name, None)

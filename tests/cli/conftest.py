"""Command-line front-ends run in-process. Their flags are absl's global ones, so each test
imports a front-end afresh, and removes the flags it defined when it ends (`absl_flags`)."""

import importlib
import sys

import absl.app  # noqa: F401 (absl's own flags exist before any snapshot)
import absl.logging  # noqa: F401
import pytest
from absl import flags

import natjax.cli.flags


@pytest.fixture
def absl_flags(monkeypatch):
    """`load(argv, *modules)`: sets `sys.argv` (where the config's overrides are read from)
    and forgets `modules`, so that they import afresh; at the end, the flags they defined are
    removed and absl's parsing undone."""
    before = set(flags.FLAGS)
    loaded = []

    def load(argv: list[str], *modules: str) -> None:
        monkeypatch.setattr(sys, "argv", argv)
        for name in modules:
            _forget(name)
            loaded.append(name)

    yield load
    for name in set(flags.FLAGS) - before:
        delattr(flags.FLAGS, name)
    flags.FLAGS.unparse_flags()
    for name in loaded:
        _forget(name)


def _forget(name: str) -> None:
    """`name` out of sys.modules and off its package (`from natjax.cli import x` reads it),
    where the package's attribute is that module (`natjax.export` is also a function)."""
    module = sys.modules.pop(name, None)
    package, _, attribute = name.rpartition(".")
    parent = sys.modules.get(package)
    if module is not None and getattr(parent, attribute, None) is module:
        delattr(parent, attribute)


@pytest.fixture
def command(absl_flags):
    """`command(name, *args)`: `natjax.cli.NAME` imported afresh, its flags parsed from `args`
    as `python -m natjax.NAME ARGS` would."""

    def load(name: str, *args: str):
        argv = [f"natjax.{name}", *args]
        absl_flags(argv, f"natjax.cli.{name}")
        module = importlib.import_module(f"natjax.cli.{name}")
        natjax.cli.flags.parse_flags(argv)
        return module

    return load

"""Orbax's noise off the screen (`natjax.cli.quiet`): its log records below CRITICAL and its
coroutines' unraisable exceptions are dropped, everything else kept."""

import logging
import os
import sys
import types

import pytest

from natjax.cli import quiet


def _record(path: str, level=logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("absl", level, path, 1, "a failure", None, None)


def test_orbax_records_below_critical_are_dropped_and_others_kept():
    drop = quiet._DropOrbaxErrors()
    orbax_file = os.path.join(quiet._ORBAX, "checkpoint_manager.py")
    assert not drop.filter(_record(orbax_file))
    assert drop.filter(_record(orbax_file, logging.CRITICAL))
    assert drop.filter(_record(quiet.__file__))


@pytest.fixture
def hooks(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    handler = logging.Handler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    quiet.keep_orbax_off_screen()
    quiet.keep_orbax_off_screen()  # Twice: installed once.
    return seen, handler


def test_the_hook_drops_orbax_coroutines_and_passes_the_rest_on(hooks):
    seen, handler = hooks
    assert len(handler.filters) == 1
    code = compile("pass", os.path.join(quiet._ORBAX, "serialization.py"), "exec")
    orbax_coroutine = types.SimpleNamespace(cr_code=code)
    sys.unraisablehook(types.SimpleNamespace(object=orbax_coroutine))
    assert seen == []
    other = types.SimpleNamespace(object=object())
    sys.unraisablehook(other)
    assert seen == [other]

"""Orbax's own noise kept off the user's screen.

When a save fails (a full disk, say), Orbax logs the failure from each of its threads, and
its write coroutines, left pending, print "Exception ignored" traces as Python exits: about
380 lines around natjax's one sentence. The commands drop both; the sentence names the
fault, and every other log record and unraisable exception is shown as before.
"""

import logging
import os
import sys

import orbax.checkpoint

_ORBAX = os.path.dirname(orbax.checkpoint.__file__)


def _from_orbax(path: str | None) -> bool:
    return bool(path) and os.path.abspath(path).startswith(_ORBAX)


class _DropOrbaxErrors(logging.Filter):
    """Drops Orbax's own records below CRITICAL (the command says what failed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL or not _from_orbax(record.pathname)


def _unraisable_from_orbax(unraisable) -> bool:
    code = getattr(unraisable.object, "cr_code", None)  # A coroutine's.
    return code is not None and _from_orbax(code.co_filename)


def keep_orbax_off_screen() -> None:
    """Installs the filter on the root logger's handlers (absl's among them) and a hook that
    drops the unraisable exceptions of Orbax's coroutines."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _DropOrbaxErrors) for f in handler.filters):
            handler.addFilter(_DropOrbaxErrors())
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if not _unraisable_from_orbax(unraisable):
            previous(unraisable)

    if getattr(previous, "__name__", "") != "natjax_hook":
        hook.__name__ = "natjax_hook"
        sys.unraisablehook = hook

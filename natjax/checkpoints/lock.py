"""One run per workdir: an advisory `flock` on `WORKDIR/.lock`, held while the run trains. The
kernel drops it when the process ends, however it ends, so a crashed or killed run leaves
nothing stuck."""

import contextlib
import fcntl
import os
import socket

import jax

from natjax.errors import UserError

LOCK_FILE = ".lock"


@contextlib.contextmanager
def workdir_lock(workdir: str):
    """Holds the lock on `workdir` (process 0 takes it for every host), or says which run
    holds it."""
    if jax.process_index() != 0:
        yield
        return
    try:
        os.makedirs(workdir, exist_ok=True)
        f = open(os.path.join(workdir, LOCK_FILE), "a+")  # noqa: SIM115
    except OSError as e:
        raise UserError(
            f"Cannot write to --workdir={workdir} ({e.strerror}); pass a writable directory."
        ) from e
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise UserError(
                f"--workdir={workdir} is in use by another run ({holder}); wait for it to "
                "end or stop it, or pass another --workdir."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)

"""Preemption: on SIGTERM (or Ctrl-C's SIGINT) a run stops at the next step boundary, every
host at the same one.

One process: a handler for SIGTERM and SIGINT only notes the signal; the loop reads the note
after each step and stops there (within 2 steps of the signal: `natjax.training.loop` keeps the
host at most one step ahead of the device). Several processes (`jax.distributed`): SIGTERM
reaches the hosts at different times, so they must agree on the step. JAX's preemption service
does that: the handler it installs when the distributed runtime starts passes the notice to its
coordination service, which picks a step no host has passed yet, and
`CheckpointManager.reached_preemption(step)` (Orbax's call of
`multihost_utils.reached_preemption_sync_point`) is true on every host at that step alone. Every
host asks after every step; until a notice comes that is a local read, no collective. Where that
service is off (`jax_enable_preemption_service=False`), a multi-host run is not stopped early
and SIGTERM acts as it would without natjax. SIGINT on several hosts keeps Python's default
(`KeyboardInterrupt`): JAX's service knows only SIGTERM.
"""

import contextlib
import signal
import threading

import jax
import orbax.checkpoint as ocp

from natjax.errors import Preempted

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preemption:
    """Whether a preemption notice asks the run to stop: called with the number of steps done
    after each step (on every host); `signal_name` is the signal that asked ("SIGTERM" for
    JAX's service); `close()` puts back the handlers it replaced."""

    def __init__(self, manager: ocp.CheckpointManager):
        self._manager = manager
        self.signal_name: str | None = None
        self._previous = {}
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._note) for s in SIGNALS}  # Python's rule:
            # handlers go in from the main thread alone.

    def _note(self, signum, frame) -> None:
        """The handler: notes the signal and does nothing else."""
        del frame
        self.signal_name = signal.Signals(signum).name

    def __call__(self, steps_done: int) -> bool:
        if self.signal_name is None and self._manager.reached_preemption(steps_done):
            self.signal_name = "SIGTERM"
        return self.signal_name is not None

    def close(self) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, signal.SIG_DFL if previous is None else previous)
        self._previous = {}


@contextlib.contextmanager
def after_training(step: int, directory: str):
    """Past the last step (the evaluation, the figures), where there is no step to stop at:
    SIGTERM or SIGINT stops the process at once with the preemption's sentence. Training is
    saved; the same command evaluates again. One process only, as `Preemption`; a fine-tune's
    own training loop, inside, installs and then puts back its own handlers."""
    if jax.process_count() != 1 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        del frame
        raise Preempted(step, directory, signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)

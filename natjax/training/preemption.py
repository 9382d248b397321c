"""Preemption: on SIGTERM a run stops at the next step boundary, every host at the same one.

One process: a SIGTERM handler only notes the signal; the loop reads the note after each step
and stops there. Several processes (`jax.distributed`): SIGTERM reaches the hosts at different
times, so they must agree on the step. JAX's preemption service does that: the handler it
installs when the distributed runtime starts passes the notice to its coordination service,
which picks a step no host has passed yet, and `CheckpointManager.reached_preemption(step)`
(Orbax's call of `multihost_utils.reached_preemption_sync_point`) is true on every host at
that step alone. Every host asks after every step; until a notice comes that is a local read,
no collective. Where that service is off (`jax_enable_preemption_service=False`), a
multi-host run is not stopped early and SIGTERM acts as it would without natjax.
"""

import signal
import threading

import jax
import orbax.checkpoint as ocp


class Preemption:
    """Whether a preemption notice asks the run to stop: called with the number of steps done
    after each step (on every host); `close()` puts back the SIGTERM handler it replaced."""

    def __init__(self, manager: ocp.CheckpointManager):
        self._manager = manager
        self._noticed = False
        self._installed = jax.process_count() == 1 and (
            threading.current_thread() is threading.main_thread()  # Python's rule for handlers.
        )
        if self._installed:
            self._previous = signal.signal(signal.SIGTERM, self._note)

    def _note(self, signum, frame) -> None:
        """The SIGTERM handler: notes the signal and does nothing else."""
        del signum, frame
        self._noticed = True

    def __call__(self, steps_done: int) -> bool:
        return self._noticed or self._manager.reached_preemption(steps_done)

    def close(self) -> None:
        if self._installed:
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGTERM, previous)
            self._installed = False

"""Training a run: its pieces (`run`), the loop (`loop`), the job around it (`job`: train,
evaluate, report), the optimizer, preemption, the config's checks and the ablations."""

from natjax.training.job import assignment_sha256, train_and_evaluate
from natjax.training.loop import batches, initial_state, train
from natjax.training.run import Run, compile_step, setup, step_config

__all__ = [
    "Run",
    "assignment_sha256",
    "batches",
    "compile_step",
    "initial_state",
    "setup",
    "step_config",
    "train",
    "train_and_evaluate",
]

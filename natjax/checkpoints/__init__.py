"""What a run keeps on disk: Orbax checkpoints of the train state (`train_state`), the run's
config and data facts beside them (`run_files`), and the encoder exported as a standalone
artifact (`encoder`), and the lock that keeps one run per workdir (`lock`)."""

from natjax.checkpoints.encoder import export, load_encoder
from natjax.checkpoints.lock import workdir_lock
from natjax.checkpoints.run_files import (
    abstract_variables,
    read_run,
    saved_config,
    upgrade_config,
    write_run,
)
from natjax.checkpoints.train_state import (
    CorruptCheckpoint,
    create_manager,
    latest_step,
    restore,
    restore_latest,
    restore_model,
    save,
    wait,
)

__all__ = [
    "CorruptCheckpoint",
    "abstract_variables",
    "create_manager",
    "export",
    "latest_step",
    "load_encoder",
    "read_run",
    "restore",
    "restore_latest",
    "restore_model",
    "save",
    "saved_config",
    "upgrade_config",
    "wait",
    "workdir_lock",
    "write_run",
]

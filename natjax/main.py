"""`python -m natjax.main --config=configs/nat.py[:PRESET] --workdir=DIR [--config.key=value]`."""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from natjax import distributed
from natjax.cli import parse_flags
from natjax.errors import Preempted, UserError
from natjax.train import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/nat", "Directory for checkpoints and results.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address",
    None,
    "HOST:PORT of process 0, for multi-host runs (SLURM and Cloud TPU need no flag).",
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (hosts).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index.")
flags.mark_flags_as_required(["config"])


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO.
    try:
        distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
        train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except UserError as e:
        print(f"natjax: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Preempted as e:
        print(f"natjax: {e}", file=sys.stderr)
        sys.exit(Preempted.EXIT_CODE)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)

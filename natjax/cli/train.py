"""`python -m natjax.main --config=configs/nat.py[:PRESET] --workdir=DIR [--config.key=value]`.

Trains `config.objective` (NAT by default) with its recipe (`natjax.objectives.apply_recipe`)
for the keys not set on the command line, then evaluates the encoder and prints the summary.
"""

import time

from absl import app, flags
from ml_collections import config_flags

from natjax import objectives, records
from natjax.cli.flags import parse_flags, record_run, run_command, user_keys
from natjax.parallel import distributed
from natjax.training import train_and_evaluate

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", "runs/nat", "Directory for checkpoints and results.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address",
    None,
    "HOST:PORT of process 0, for multi-host runs (SLURM and Cloud TPU need no flag).",
)
_RECORD = flags.DEFINE_string(
    "record",
    None,
    "Also write the summary, with its provenance, as a results record (a .json path, e.g. "
    "results/fashion_mnist/nat/seed0.json; see `python -m natjax.report`).",
)
_ALLOW_CHANGE = flags.DEFINE_list(
    "allow_change",
    [],
    "Config keys (or prefixes ending in '.') a resume may change on purpose, e.g. "
    "optim.learning_rate; what changed is recorded in run.json.",
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (hosts).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index.")


def _train() -> None:
    start = time.perf_counter()
    if _RECORD.value:
        records.check_destination(_RECORD.value)
    distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
    config = objectives.apply_recipe(_CONFIG.value, user_keys())
    summary = train_and_evaluate(config, _WORKDIR.value, tuple(_ALLOW_CHANGE.value))
    if _RECORD.value:
        record_run(_RECORD.value, "train", summary, config, start)


def main(argv: list[str]) -> None:
    del argv
    run_command("natjax", _train)


def run() -> None:
    flags.mark_flags_as_required(["config"])
    app.run(main, flags_parser=parse_flags)

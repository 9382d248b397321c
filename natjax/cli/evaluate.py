"""`python -m natjax.evaluate --workdir DIR [--checkpoint STEP] [--protocol linear,knn,...]`.

Evaluates the encoder of any saved checkpoint of a run (default: the latest) under the
protocols of `natjax.evaluation`, prints a table and writes `DIR/eval/step_STEP.json`. Training
calls the same code (`evaluation.evaluate_model`) at its end, so the two give the same figures.
"""

import time

from absl import app, flags

from natjax import checkpoints, evaluation, records
from natjax.cli.flags import record_run, run_command

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's directory.")
_CHECKPOINT = flags.DEFINE_integer("checkpoint", None, "Step to evaluate (default: the latest).")
_PROTOCOL = flags.DEFINE_list(
    "protocol",
    None,
    f"Any of {', '.join(evaluation.PROTOCOLS)} (default: the run's eval.protocols).",
)

_RECORD = flags.DEFINE_string(
    "record",
    None,
    "Also write the results, with their provenance, as a results record (a .json path; see "
    "`python -m natjax.report`).",
)


def _evaluate() -> None:
    start = time.perf_counter()
    if _RECORD.value:
        records.check_destination(_RECORD.value)
    step, results = evaluation.evaluate_checkpoint(
        _WORKDIR.value, _CHECKPOINT.value, _PROTOCOL.value
    )
    print(evaluation.format_results(f"NAT evaluation of {_WORKDIR.value}, step {step}", results))
    if _RECORD.value:
        config, _ = checkpoints.read_run(_WORKDIR.value)
        results = {"step": step, **results}
        record_run(_RECORD.value, "evaluate", results, config, start)


def main(argv: list[str]) -> None:
    del argv
    run_command("natjax.evaluate", _evaluate)


def run() -> None:
    flags.mark_flags_as_required(["workdir"])
    app.run(main)

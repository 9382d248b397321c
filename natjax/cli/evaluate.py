"""`python -m natjax.evaluate --workdir DIR [--checkpoint STEP] [--protocol linear,knn,...]`.

Evaluates the encoder of any saved checkpoint of a run (default: the latest) under the frozen
protocols of `natjax.evaluation` and the `finetune` protocol (`natjax.training.finetune`),
prints a table and writes `DIR/eval/step_STEP.json`. Training calls the same code at its end,
so the two give the same figures.
"""

import time

from absl import app, flags
from ml_collections import config_flags

from natjax import checkpoints, evaluation, records
from natjax.cli.flags import parse_flags, record_run, run_command
from natjax.errors import UserError
from natjax.training import finetune
from natjax.training.config_checks import ALL_PROTOCOLS, FINETUNE

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's directory.")
_CHECKPOINT = flags.DEFINE_integer("checkpoint", None, "Step to evaluate (default: the latest).")
_PROTOCOL = flags.DEFINE_list(
    "protocol",
    None,
    f"Any of {', '.join(ALL_PROTOCOLS)} (default: the run's eval.protocols).",
)
_FRACTIONS = flags.DEFINE_list(
    "label_fractions",
    None,
    "finetune: the shares of the training labels, each in (0, 1] (default: the run's "
    "eval.finetune.label_fractions).",
)

_TRANSFER = config_flags.DEFINE_config_file(
    "transfer",
    None,
    "Transfer: evaluate on this config's data instead of the run's (e.g. "
    "configs/nat.py:cifar10_cpu, then --transfer.data.KEY=VALUE), its images converted to "
    "the encoder's input.",
    lock_config=True,
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
    frozen, tuned = _protocols(_WORKDIR.value)
    step, results = _CHECKPOINT.value, {}
    other = None if _TRANSFER.value is None else _TRANSFER.value.data
    if frozen:
        step, results = evaluation.evaluate_checkpoint(_WORKDIR.value, step, frozen, other)
    if tuned:
        step, found = finetune.finetune_checkpoint(_WORKDIR.value, step, _fractions(), other)
        results.update(found)
    if other is not None:
        results["transfer_dataset"] = other.name
    if tuned or other is not None:  # Both kinds of figure in one file.
        evaluation.write_results(_WORKDIR.value, step, results, other and other.name)
    on = "" if other is None else f" on {other.name}"
    title = f"NAT evaluation of {_WORKDIR.value}, step {step}{on}"
    print(evaluation.format_results(title, results))
    if _RECORD.value:
        config, _ = checkpoints.read_run(_WORKDIR.value)
        results = {"step": step, **results}
        record_run(_RECORD.value, "evaluate", results, config, start)


def _protocols(workdir: str) -> tuple[tuple[str, ...], bool]:
    """The frozen protocols asked for (`--protocol`, else the run's), and whether `finetune`
    is."""
    asked = _PROTOCOL.value
    if asked is None:
        asked = tuple(checkpoints.read_run(workdir)[0].eval.protocols)
    unknown = sorted(set(asked) - set(ALL_PROTOCOLS))
    if unknown:
        raise UserError(
            f"unknown --protocol {', '.join(unknown)}; use any of {', '.join(ALL_PROTOCOLS)}."
        )
    return tuple(p for p in asked if p != FINETUNE), FINETUNE in asked


def _fractions() -> tuple[float, ...] | None:
    if _FRACTIONS.value is None:
        return None
    try:
        return tuple(float(f) for f in _FRACTIONS.value)
    except ValueError:
        raise UserError(
            f"--label_fractions={','.join(_FRACTIONS.value)} is not a list of numbers; give "
            "shares of the labels in (0, 1], e.g. 0.01,0.1,1."
        ) from None


def main(argv: list[str]) -> None:
    del argv
    run_command("natjax.evaluate", _evaluate)


def run() -> None:
    flags.mark_flags_as_required(["workdir"])
    app.run(main, flags_parser=parse_flags)

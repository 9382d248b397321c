"""`python -m natjax.evaluate --workdir DIR [--checkpoint STEP] [--protocol linear,knn,...]`.

Evaluates the encoder of any saved checkpoint of a run (default: the latest) under the
protocols of `natjax.evaluation`, prints a table and writes `DIR/eval/step_STEP.json`. Training
calls the same code (`evaluation.evaluate_model`) at its end, so the two give the same figures.
Only this module defines flags: the library never does.
"""

import sys

from absl import app, flags, logging

from natjax import evaluation
from natjax.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's directory.")
_CHECKPOINT = flags.DEFINE_integer("checkpoint", None, "Step to evaluate (default: the latest).")
_PROTOCOL = flags.DEFINE_list(
    "protocol",
    None,
    f"Any of {', '.join(evaluation.PROTOCOLS)} (default: the run's eval.protocols).",
)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        step, results = evaluation.evaluate_checkpoint(
            _WORKDIR.value, _CHECKPOINT.value, _PROTOCOL.value
        )
    except UserError as e:
        print(f"natjax.evaluate: error: {e}", file=sys.stderr)
        sys.exit(2)
    width = max(map(len, results))
    print(f"NAT evaluation of {_WORKDIR.value}, step {step}")
    for k, v in results.items():
        print(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}")


if __name__ == "__main__":
    flags.mark_flags_as_required(["workdir"])
    app.run(main)

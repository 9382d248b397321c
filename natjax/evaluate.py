"""`python -m natjax.evaluate --workdir DIR [--checkpoint STEP] [--protocol linear,knn,...]`.

Evaluates the encoder of any saved checkpoint of a run (default: the latest) under the
protocols of `natjax.evaluation`, prints a table and writes `DIR/eval/step_STEP.json`. Training
calls the same code at its end, so the two give the same figures.
"""

import json
import os
import sys

import jax
from absl import app, flags, logging

from natjax import checkpointing, data, evaluation, preprocess
from natjax.encoder_io import abstract_variables, read_run
from natjax.errors import UserError
from natjax.models import create_model
from natjax.state import init_variables, split_seed

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's directory.")
_CHECKPOINT = flags.DEFINE_integer("checkpoint", None, "Step to evaluate (default: the latest).")
_PROTOCOL = flags.DEFINE_list(
    "protocol",
    None,
    f"Any of {', '.join(evaluation.PROTOCOLS)} (default: the run's eval.protocols).",
)


def evaluate_model(config, model, variables, dataset, protocols=None) -> dict:
    """`evaluation.evaluate` with the run's own views and random-init baseline, under
    `protocols` (default: the config's `eval.protocols`)."""
    protocols = tuple(config.eval.protocols) if protocols is None else protocols
    crop = config.input.crop_size or dataset.image_shape[0]
    input_shape = preprocess.model_input_shape(dataset.image_shape, crop)
    fresh = init_variables(model, split_seed(config.seed)[0], input_shape)  # Step 0's.
    return evaluation.evaluate(config, model, variables, fresh, dataset, crop, tuple(protocols))


def write_results(workdir: str, step: int, results: dict) -> str:
    """`DIR/eval/step_STEP.json` (process 0 only); returns its path."""
    path = os.path.join(workdir, "eval", f"step_{step}.json")
    if jax.process_index() == 0:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"step": step, **results}, f, indent=2)
    return path


def evaluate_checkpoint(workdir: str, step: int | None = None, protocols=None):
    """Evaluates the checkpoint at `step` (default: the latest) of `workdir` under `protocols`
    (default: the run's); writes and returns its results."""
    unknown = sorted(set(protocols or ()) - set(evaluation.PROTOCOLS))
    if unknown:
        raise UserError(
            f"unknown --protocol {', '.join(unknown)}; use any of "
            f"{', '.join(evaluation.PROTOCOLS)}."
        )
    config, image_shape = read_run(workdir)
    variables = checkpointing.restore_model(workdir, step, abstract_variables(config, image_shape))
    step = step if step is not None else checkpointing.latest_step(workdir)
    results = evaluate_model(
        config, create_model(config), variables, data.load(config.data), protocols
    )
    write_results(workdir, step, results)
    return step, results


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        step, results = evaluate_checkpoint(_WORKDIR.value, _CHECKPOINT.value, _PROTOCOL.value)
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

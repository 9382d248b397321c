"""A run's results: written as JSON under the workdir, and printed as a table."""

import json
import os

import jax


def write_results(workdir: str, step: int, results: dict, dataset: str | None = None) -> str:
    """`DIR/eval/step_STEP.json`, or `step_STEP_on_DATASET.json` for another dataset's figures
    (process 0 only); returns its path."""
    name = f"step_{step}" if dataset is None else f"step_{step}_on_{dataset}"
    path = os.path.join(workdir, "eval", f"{name}.json")
    if jax.process_index() == 0:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"step": step, **results}, f, indent=2)
    return path


def format_results(title: str, results: dict) -> str:
    """`title`, then the results as an aligned two-column table (floats to 4 decimals)."""
    width = max(map(len, results))
    lines = [
        f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
        for k, v in results.items()
    ]
    return "\n".join([title, *lines])

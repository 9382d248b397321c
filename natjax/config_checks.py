"""Checks of a run config's values, each failing with one sentence that says how to fix it."""

from ml_collections import ConfigDict

from natjax import assignment, models
from natjax.errors import UserError
from natjax.step import SCOPES


def _require(ok: bool, key: str, value, expected: str) -> None:
    if not ok:
        raise UserError(f"--config.{key}={value!r} is invalid: it must be {expected}.")


def check_config(c: ConfigDict) -> None:
    """Raises UserError on the first invalid value of `c`."""
    _require(c.batch_size > 0, "batch_size", c.batch_size, "a positive integer")
    _require(c.num_epochs > 0, "num_epochs", c.num_epochs, "a positive integer")
    _require(c.log_every_steps > 0, "log_every_steps", c.log_every_steps, "a positive integer")
    _require(
        c.model.encoder in models.ENCODERS,
        "model.encoder",
        c.model.encoder,
        f"one of {', '.join(models.ENCODERS)}",
    )
    _require(c.model.target_dim > 0, "model.target_dim", c.model.target_dim, "positive")
    _require(
        c.nat.reassign_every >= 0,
        "nat.reassign_every",
        c.nat.reassign_every,
        "0 (never) or a positive number of epochs",
    )
    _require(
        c.nat.solver in assignment.METHODS,
        "nat.solver",
        c.nat.solver,
        f"one of {', '.join(sorted(assignment.METHODS))}",
    )
    _require(c.nat.scope in SCOPES, "nat.scope", c.nat.scope, " or ".join(SCOPES))
    _require(c.optim.name in ("sgd", "adam"), "optim.name", c.optim.name, "sgd or adam")
    _require(c.optim.learning_rate > 0, "optim.learning_rate", c.optim.learning_rate, "positive")
    _require(
        0 <= c.optim.constant_fraction <= 1,
        "optim.constant_fraction",
        c.optim.constant_fraction,
        "between 0 and 1",
    )
    _require(c.data.image_size > 0, "data.image_size", c.data.image_size, "positive")
    _require(c.input.crop_padding >= 0, "input.crop_padding", c.input.crop_padding, ">= 0")
    _require(
        0 <= c.input.crop_size <= c.data.image_size + 2 * c.input.crop_padding,
        "input.crop_size",
        c.input.crop_size,
        "0 (the image size) or at most data.image_size + 2 * input.crop_padding",
    )
    _require(c.eval.knn_k > 0, "eval.knn_k", c.eval.knn_k, "a positive integer")
    _require(c.eval.knn_temperature > 0, "eval.knn_temperature", c.eval.knn_temperature, "positive")


def check_batch_fits(batch_size: int, num_examples: int) -> None:
    if batch_size > num_examples:
        raise UserError(
            f"batch_size={batch_size} is larger than the {num_examples} training examples; "
            f"set --config.batch_size to at most {num_examples}."
        )

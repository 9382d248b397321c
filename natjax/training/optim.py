"""The optimizer: SGD (or Adam) with a constant step, then a linear decay to zero (the paper's).

A fine-tune (`natjax.training.finetune`) may move a pretrained encoder more slowly than the new
classifier: `encoder_learning_rate_scale` (absent: 1) multiplies the encoder's steps."""

import jax
import optax
from ml_collections import ConfigDict


def learning_rate_schedule(config: ConfigDict, total_steps: int) -> optax.Schedule:
    """`learning_rate` for the first `constant_fraction` of the steps, then linearly to 0."""
    constant_steps = int(total_steps * config.constant_fraction)
    return optax.join_schedules(
        [
            optax.constant_schedule(config.learning_rate),
            optax.linear_schedule(config.learning_rate, 0.0, max(1, total_steps - constant_steps)),
        ],
        [constant_steps],
    )


def create_optimizer(config: ConfigDict, total_steps: int) -> optax.GradientTransformation:
    """Weight decay on kernels only (not biases or batch-norm scales), then SGD or Adam."""
    schedule = learning_rate_schedule(config, total_steps)
    kernels_only = lambda params: jax.tree.map(lambda p: p.ndim > 1, params)  # noqa: E731
    if config.name == "sgd":
        step = optax.sgd(schedule, momentum=config.momentum, nesterov=True)
    elif config.name == "adam":
        step = optax.adam(schedule)
    else:
        raise ValueError(f"Unknown optimizer {config.name!r}; use sgd or adam.")
    tx = optax.chain(optax.add_decayed_weights(config.weight_decay, kernels_only), step)
    scale = config.get("encoder_learning_rate_scale", 1.0)
    if scale == 1.0:
        return tx
    return optax.chain(tx, optax.masked(optax.scale(scale), _encoder_only))


def _encoder_only(params: dict) -> dict:
    """True on the leaves under the top-level "encoder" (the pretrained part), else False."""
    return {k: jax.tree.map(lambda _, k=k: k == "encoder", v) for k, v in params.items()}

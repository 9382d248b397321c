"""The linear probe: multinomial logistic regression on standardized frozen features (mean
cross-entropy plus `l2 * ||W||^2`), fitted by Adam on minibatches with a cosine schedule over a
few epochs (`natjax.evaluation.classifier`), the same algorithm whether the features are held
in memory or streamed."""

import jax.numpy as jnp
import optax
from ml_collections import ConfigDict

from natjax.evaluation import classifier
from natjax.evaluation.stream import FeatureStream, in_memory_form

RESULT = "linear_probe_top1"


def settings(config: ConfigDict) -> dict:
    """The probe's keyword arguments from a run config (`eval.linear`, the run's seed)."""
    return {**config.eval.linear.to_dict(), "seed": config.seed}


def top1(
    train: FeatureStream,
    test: FeatureStream,
    num_classes: int,
    *,
    epochs: int = 5,
    batch_size: int = 256,
    learning_rate: float = 1e-2,
    l2: float = 1e-4,
    seed: int = 0,
) -> float:
    """Test top-1 of the linear probe.

    Args:
      train: the training features and labels, a stream (in memory or re-encoded).
      test: the test features and labels.
      num_classes: the labels' range.
      epochs: passes over `train`, each in a fresh random order drawn from `(seed, epoch)`.
      batch_size: rows per minibatch.
      learning_rate: Adam's, decayed to 0 on a cosine over the run.
      l2: the weights' penalty.
      seed: draws the passes' orders.

    Returns:
      The share of `test` classified right.

    >>> import numpy as np
    >>> x = np.repeat(np.eye(4, dtype=np.float32), 25, axis=0)  # Four separable classes.
    >>> y = np.repeat(np.arange(4), 25)
    >>> top1_in_memory(x, y, x, y, 4, epochs=20)
    1.0
    """
    params, loss, tx = problem(
        train,
        num_classes,
        classifier.masked_cross_entropy,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        l2=l2,
    )
    return classifier.fit_and_score(
        train, test, params, loss, logits, tx, epochs=epochs, batch_size=batch_size, seed=seed
    )


def problem(
    train: FeatureStream, num_classes: int, row_loss, *, epochs, batch_size, learning_rate, l2
):
    """The linear probe's zero-initialised `params`, its loss (`row_loss(logits, y, valid)`
    plus `l2 * ||W||^2`) and Adam on a cosine over `epochs` passes of `train`: shared by the
    one-label and the multi-label (`multilabel`) probes."""
    params = {"w": jnp.zeros((train.dim, num_classes)), "b": jnp.zeros((num_classes,))}

    def loss(p, x, y, valid):
        return row_loss(logits(p, x), y, valid) + l2 * jnp.sum(jnp.square(p["w"]))

    schedule = optax.cosine_decay_schedule(
        learning_rate, classifier.num_steps(train, epochs, batch_size)
    )
    return params, loss, optax.adam(schedule)


top1_in_memory = in_memory_form(top1)


def logits(p, x):
    return x @ p["w"] + p["b"]

"""The MLP probe, the paper's classifier on frozen convolutional features: ReLU hidden layers
(`eval.mlp.widths`) trained by AdamW on minibatches of standardized features
(`natjax.evaluation.classifier`), the same algorithm whether the features are held in memory or
streamed."""

import jax
import optax
from ml_collections import ConfigDict

from natjax.evaluation import classifier
from natjax.evaluation.stream import FeatureStream, in_memory_form
from natjax.models.layers import init_mlp, mlp

RESULT = "mlp_probe_top1"


def settings(config: ConfigDict) -> dict:
    """The probe's keyword arguments from a run config (`eval.mlp`, the run's seed)."""
    e = config.eval.mlp
    return {**e.to_dict(), "widths": tuple(e.widths), "seed": config.seed}


def top1(
    train: FeatureStream,
    test: FeatureStream,
    num_classes: int,
    *,
    widths: tuple[int, ...] = (512,),
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> float:
    """Test top-1 of the MLP probe.

    Args:
      train: the training features and labels, a stream (in memory or re-encoded).
      test: the test features and labels.
      num_classes: the labels' range.
      widths: the hidden layers' widths.
      epochs: passes over `train`, each in a fresh random order drawn from `(seed, epoch)`.
      batch_size: rows per minibatch.
      learning_rate: AdamW's.
      weight_decay: AdamW's.
      seed: initialises the layers and draws the passes' orders.

    Returns:
      The share of `test` classified right.
    """
    sizes = (train.dim, *widths, num_classes)
    keys = jax.random.split(jax.random.key(seed), len(sizes))
    params = init_mlp(keys[1:], sizes)

    def loss(p, x, y, valid):
        return classifier.masked_cross_entropy(mlp(p, x), y, valid)

    tx = optax.adamw(learning_rate, weight_decay=weight_decay)
    return classifier.fit_and_score(
        train, test, params, loss, mlp, tx, epochs=epochs, batch_size=batch_size, seed=seed
    )


top1_in_memory = in_memory_form(top1)

"""Multi-label classification, the paper's Pascal VOC 2007 classification protocol, for
datasets whose images carry several labels (`Split.labels` multi-hot `[n, C]`): a linear
classifier with a sigmoid per class on standardized frozen features (mean binary
cross-entropy over the classes plus `l2 * ||W||^2`, Adam with a cosine decay, the linear
probe's fit), scored by the mean over the classes of the average precision of the test images
ranked by the class's score (scikit-learn's; classes with no positive test image are left
out, as VOC's evaluation leaves them)."""

import jax.numpy as jnp
import numpy as np
import optax
from sklearn.metrics import average_precision_score

from natjax.evaluation import classifier, linear
from natjax.evaluation.stream import FeatureStream

RESULT = "linear_probe_map"


def sigmoid_loss(logits, labels, valid):
    """Mean over the valid rows of the mean binary cross-entropy over the classes."""
    bce = optax.sigmoid_binary_cross_entropy(logits, labels.astype(jnp.float32)).mean(-1)
    return jnp.sum(bce * valid) / jnp.maximum(jnp.sum(valid), 1)


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """mAP of `scores` `[n, C]` against multi-hot `labels` `[n, C]` over the classes that have
    a positive."""
    keep = np.asarray(labels).sum(0) > 0
    return float(average_precision_score(labels[:, keep], scores[:, keep], average="macro"))


def linear_map(
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
    """Test mAP of the multi-label linear probe (the linear probe's settings, `eval.linear`)."""
    params, loss, tx = linear.problem(
        train,
        num_classes,
        sigmoid_loss,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        l2=l2,
    )
    fitted = classifier.fit(
        train, params, loss, tx, epochs=epochs, batch_size=batch_size, seed=seed
    )
    scores = classifier.predictions(test, fitted[0], linear.logits, *fitted[1:])
    return mean_average_precision(scores, test.labels)

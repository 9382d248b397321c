"""The probes' one fit (`natjax.evaluation.classifier`): one-pass moments as numpy's, a loss
that the padding does not reach, minibatches that split a chunk, and a fit that scores."""

import jax.numpy as jnp
import numpy as np
import optax

from natjax.evaluation import classifier
from tests.evaluation.streams import blobs, stream


def test_streamed_moments_are_numpys():
    x, y = blobs(1, 301)  # Not a whole number of chunks: the padding must not count.
    x = x * np.arange(1, 21) + 100.0
    mean, std = classifier.moments(stream(x, y))
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, x.std(0) + classifier.STD_EPS, rtol=1e-4)


def test_the_padding_counts_for_nothing_in_the_loss():
    logits = jnp.array([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
    y = jnp.array([0, 0, 1])
    valid = jnp.array([True, True, False])
    p = np.exp(2) / (np.exp(2) + 1)
    expected = -(np.log(p) + np.log(1 - p)) / 2
    got = classifier.masked_cross_entropy(logits, y, valid)
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    assert float(classifier.masked_cross_entropy(logits, y, jnp.zeros(3, bool))) == 0.0


def test_a_chunk_splits_into_whole_minibatches_that_split_over_the_devices():
    assert classifier.steps_per_chunk(1024, 256, 1) == 4
    assert classifier.steps_per_chunk(64, 16, 4) == 4
    assert classifier.steps_per_chunk(64, 24, 1) == 1  # Not whole minibatches: one step.
    assert classifier.steps_per_chunk(64, 6, 4) == 1  # 6 rows do not split over 4 devices.
    assert classifier.steps_per_chunk(16, 256, 1) == 1
    assert classifier.num_steps(stream(*blobs(0, 130), chunk=64), 3, 16) == 3 * 3 * 4


def test_fit_and_score_fits_its_parameters_and_counts_only_valid_test_rows():
    (x, y), (q, qy) = blobs(7, 200, classes=3), blobs(7, 61, classes=3)
    params = {"w": jnp.zeros((20, 3)), "b": jnp.zeros(3)}

    def logits(p, v):
        return v @ p["w"] + p["b"]

    def loss(p, v, labels, valid):
        return classifier.masked_cross_entropy(logits(p, v), labels, valid)

    top1 = classifier.fit_and_score(
        stream(x, y),
        stream(q, qy),  # 61 rows: a padded last chunk.
        params,
        loss,
        logits,
        optax.adam(0.05),
        epochs=3,
        batch_size=16,
        seed=0,
    )
    assert top1 == 1.0
    untrained = classifier.fit_and_score(
        stream(x, y),
        stream(q, qy),
        params,
        loss,
        logits,
        optax.sgd(0.0),
        epochs=1,
        batch_size=16,
        seed=0,
    )
    assert untrained == np.mean(qy == 0)  # All-zero logits: class 0 for every test row.

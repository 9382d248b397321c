"""DeepCluster (`natjax.objectives.deepcluster`): Lloyd's k-means and PCA whitening against
numpy, the re-seeding of empty clusters, the balanced loss, and its one-sentence limit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax import training
from natjax.errors import UserError
from natjax.objectives import deepcluster
from tests.helpers import assert_refused, tiny_config


def numpy_lloyd(x, centroids, rounds):
    for _ in range(rounds):
        labels = np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), 1)
        assert len(np.unique(labels)) == len(centroids)  # No empty cluster on this data.
        centroids = np.stack([x[labels == j].mean(0) for j in range(len(centroids))])
    labels = np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), 1)
    return centroids, labels


def test_kmeans_follows_lloyds_rounds_as_numpy_does():
    x = np.random.default_rng(11).normal(size=(200, 5)).astype(np.float32)
    key = jax.random.key(3)
    init = np.asarray(deepcluster.init_centroids(jax.random.split(key)[0], jnp.asarray(x), 6))
    assert len(np.unique(init, axis=0)) == 6  # Six distinct images.
    centroids, labels = deepcluster.kmeans(key, jnp.asarray(x), 6, 10)
    want_centroids, want_labels = numpy_lloyd(x, init, 10)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(centroids, want_centroids, rtol=1e-4, atol=1e-5)
    inertia = float(deepcluster.inertia(jnp.asarray(x), centroids, labels))
    np.testing.assert_allclose(inertia, ((x - want_centroids[want_labels]) ** 2).sum(), rtol=1e-4)
    start = float(deepcluster.inertia(jnp.asarray(x), init, deepcluster.assign(x, init)))
    assert inertia < start


def test_kmeans_reseeds_an_empty_cluster_by_splitting_a_full_one():
    """Four tight blobs, every centroid started on one image: all but one cluster are empty
    after the first round; re-seeding splits them out until each blob has its own."""
    rng = np.random.default_rng(12)
    corners = np.array([[5, 0], [-5, 0], [0, 5], [0, -5]], np.float32)
    x = np.concatenate([c + 0.1 * rng.normal(size=(25, 2)) for c in corners]).astype(np.float32)
    centroids = jnp.asarray(np.repeat(x[:1], 4, 0))
    for i in range(30):
        centroids = deepcluster.lloyd_round(jax.random.key(i), jnp.asarray(x), centroids)
    labels = np.asarray(deepcluster.assign(jnp.asarray(x), centroids))
    blobs = labels.reshape(4, 25)
    assert all(len(set(row)) == 1 for row in blobs) and len(set(blobs[:, 0])) == 4


def test_pca_whitening_keeps_the_leading_directions_at_unit_variance_as_numpy_does():
    rng = np.random.default_rng(19)
    x = rng.normal(size=(500, 4)) * [5.0, 2.0, 1.0, 0.5] @ np.linalg.qr(rng.normal(size=(4, 4)))[0]
    centred = x - x.mean(0)
    variances, directions = np.linalg.eigh(centred.T @ centred / len(x))
    for dim in (2, 4, 256):
        keep = min(dim, 4)
        top = directions[:, ::-1][:, :keep] / np.sqrt(variances[::-1][:keep] + 1e-5)
        want = centred @ top
        want /= np.linalg.norm(want, axis=1, keepdims=True)
        got = np.asarray(deepcluster.pca_whiten(jnp.asarray(x, jnp.float32), dim))
        assert got.shape == (500, keep)
        # Gram matrices: the same whatever sign each principal direction was given.
        np.testing.assert_allclose(got @ got.T, want @ want.T, atol=2e-4)


def test_deepcluster_loss_weighs_every_cluster_alike():
    labels = np.array([0, 0, 0, 1, 2, 2])  # Cluster 3 is empty.
    weights = np.asarray(deepcluster.cluster_weights(jnp.asarray(labels), 4))
    np.testing.assert_allclose(weights, [6 / 9, 6 / 3, 6 / 6, 0.0], rtol=1e-6)
    rng = np.random.default_rng(13)
    out = rng.normal(size=(3, 5)).astype(np.float32)
    kernel, bias = rng.normal(size=(5, 4)).astype(np.float32), np.ones(4, np.float32)
    ids = np.array([1, 3, 5])
    logits = out @ kernel + bias
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    want = np.mean([-weights[labels[i]] * logp[j, labels[i]] for j, i in enumerate(ids)])
    extra = {"params": {"kernel": kernel, "bias": bias}, "labels": labels, "weights": weights}
    np.testing.assert_allclose(float(deepcluster.loss(out, ids, extra)), want, rtol=1e-5)


def test_more_clusters_than_images_is_one_sentence(tmp_path):
    config = tiny_config(str(tmp_path))
    config.objective = "deepcluster"
    config.deepcluster.clusters = 500
    with pytest.raises(UserError, match="deepcluster.clusters=500 is more than the 96 training"):
        training.train_and_evaluate(config, str(tmp_path / "run"))


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "deepcluster.clusters",
            0,
            "deepcluster.clusters=0 is invalid: it must be a positive integer",
        ),
        (
            "deepcluster.pca_dim",
            -1,
            "deepcluster.pca_dim=-1 is invalid: it must be 0 (no whitening) or",
        ),
    ],
)
def test_a_bad_deepcluster_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, deepcluster.check)

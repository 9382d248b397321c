"""DeepCluster (Caron et al., 2018): before every `deepcluster.refresh_every` epochs, k-means
over the head's outputs for every training image (eval mode, centre view; PCA-whitened to at
most `deepcluster.pca_dim` dimensions and unit-normalised, as the paper's) gives each image a
pseudo-label among `deepcluster.clusters`; a fresh linear classifier on the head is then
trained with the encoder to predict them, with cross-entropy weighted so that every non-empty
cluster counts alike (the paper samples images uniformly over clusters).

The k-means is Lloyd's, on the device, `deepcluster.kmeans_iterations` rounds from distinct
random images; a cluster left empty is re-seeded as the paper's (Faiss') rule does: a non-empty
cluster, drawn in proportion to its size, is split in two by perturbing its centroid both
ways. NAT's nearest successor in kind: both give every image a target and re-solve the
assignment between epochs; here the targets are learnt centroids, not fixed noise.
"""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import optax

from natjax.errors import UserError, require
from natjax.models.layers import l2_normalize
from natjax.objectives.base import PARAMS, Objective, Spec
from natjax.views import view

SPLIT = 1 / 1024  # Faiss' relative perturbation when an empty cluster takes half of another.


def defaults() -> ml_collections.ConfigDict:
    """`config.deepcluster`."""
    c = ml_collections.ConfigDict()
    c.clusters = 100  # Ten per class of 10-class data, as the paper's 10,000 for 1,000.
    c.kmeans_iterations = 20  # Lloyd's rounds per pass (the paper's Faiss setting).
    c.refresh_every = 1  # Epochs between k-means passes: the paper's every epoch.
    # PCA-whitened dimensions before k-means, the paper's 256 (all of a narrower head's); 0: none.
    c.pca_dim = 256
    return c


def check(config) -> None:
    c = config.deepcluster
    for key in ("clusters", "kmeans_iterations", "refresh_every"):
        require(c[key] > 0, f"deepcluster.{key}", c[key], "a positive integer")
    require(
        c.pca_dim >= 0, "deepcluster.pca_dim", c.pca_dim, "0 (no whitening) or a positive integer"
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.deepcluster`."""

    clusters: int
    kmeans_iterations: int
    refresh_every: int  # Epochs between k-means passes.
    pca_dim: int = 256  # Whitened dimensions kept before k-means; 0: no whitening.


WHITEN_EPS = 1e-5  # Added to each kept variance before its inverse square root.


def pca_whiten(x: jax.Array, dim: int) -> jax.Array:
    """Rows of `x` `[n, d]` centred, projected on their `min(dim, d)` leading principal
    directions, each scaled to unit variance, then unit-normalised: the paper's preprocessing
    before k-means."""
    centred = x - jnp.mean(x, axis=0)
    covariance = centred.T @ centred / len(x)
    variances, directions = jnp.linalg.eigh(covariance)  # Ascending.
    keep = min(dim, x.shape[1])
    variances, directions = variances[::-1][:keep], directions[:, ::-1][:, :keep]
    return l2_normalize(centred @ directions / jnp.sqrt(jnp.maximum(variances, 0) + WHITEN_EPS))


def init_centroids(key: jax.Array, x: jax.Array, k: int) -> jax.Array:
    """`k` distinct rows of `x` `[n, d]`, drawn at random."""
    return x[jax.random.choice(key, len(x), (k,), replace=False)]


def assign(x: jax.Array, centroids: jax.Array) -> jax.Array:
    """Each row's nearest centroid (squared Euclidean distance), int32 `[n]`."""
    distance = jnp.sum(centroids**2, 1) - 2 * x @ centroids.T  # |x|^2 is the same per row.
    return jnp.argmin(distance, axis=1).astype(jnp.int32)


def lloyd_round(key: jax.Array, x: jax.Array, centroids: jax.Array) -> jax.Array:
    """One round: every centroid moves to the mean of its rows; an empty one is re-seeded."""
    k = len(centroids)
    labels = assign(x, centroids)
    counts = jnp.zeros(k, x.dtype).at[labels].add(1)
    sums = jnp.zeros_like(centroids).at[labels].add(x)
    means = sums / jnp.maximum(counts, 1)[:, None]
    return reseed(key, jnp.where(counts[:, None] > 0, means, centroids), counts)


def reseed(key: jax.Array, centroids: jax.Array, counts: jax.Array) -> jax.Array:
    """Each empty cluster's centroid becomes a non-empty cluster's (drawn in proportion to its
    size) times `1 + SPLIT * s`, and that one's times `1 - SPLIT * s`, for `s` = +1, -1, ...
    along the dimensions: the next round splits its rows between the two."""
    k, d = centroids.shape
    empty = counts == 0
    source = jax.random.categorical(key, jnp.log(counts), shape=(k,))  # Never an empty one.
    signs = jnp.where(jnp.arange(d) % 2 == 0, SPLIT, -SPLIT)
    taken = centroids[source]
    shrunk = centroids.at[jnp.where(empty, source, k)].set(taken * (1 - signs), mode="drop")
    return jnp.where(empty[:, None], taken * (1 + signs), shrunk)


def kmeans(key: jax.Array, x: jax.Array, k: int, iterations: int) -> tuple[jax.Array, jax.Array]:
    """`(centroids [k, d], labels [n])` after `iterations` of Lloyd's rounds from `k` random
    rows; the labels are the final centroids' nearest."""
    init_key, round_key = jax.random.split(key)
    centroids = init_centroids(init_key, x, k)

    def body(i, c):
        return lloyd_round(jax.random.fold_in(round_key, i), x, c)

    centroids = jax.lax.fori_loop(0, iterations, body, centroids)
    return centroids, assign(x, centroids)


def inertia(x: jax.Array, centroids: jax.Array, labels: jax.Array) -> jax.Array:
    """k-means' objective: the sum of squared distances of the rows to their centroids."""
    return jnp.sum((x - centroids[labels]) ** 2)


def cluster_weights(labels: jax.Array, k: int) -> jax.Array:
    """`[k]`: `n / (non-empty clusters * size)` per cluster (0 where empty), so that a batch's
    weighted mean counts every non-empty cluster alike in expectation."""
    counts = jnp.zeros(k, jnp.float32).at[labels].add(1)
    used = jnp.sum(counts > 0)
    return jnp.where(counts > 0, len(labels) / (used * jnp.maximum(counts, 1)), 0.0)


def loss(out: jax.Array, ids: jax.Array, state: dict) -> jax.Array:
    """The fresh classifier's weighted cross-entropy against the images' pseudo-labels."""
    classifier = state[PARAMS]
    logits = out @ classifier["kernel"] + classifier["bias"]
    labels = state["labels"][ids]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return jnp.mean(state["weights"][labels] * ce)


def classifier(key: jax.Array, dim: int, k: int) -> dict:
    """A fresh linear classifier `[dim] -> [k]`, the paper's N(0, 0.01) weights."""
    return {"kernel": 0.01 * jax.random.normal(key, (dim, k)), "bias": jnp.zeros(k)}


def views(key, batch, cfg):
    """One view of each image as NAT's (`input.views`), and its id (its pseudo-label's index)."""
    return view(key, batch["images"], cfg), batch["ids"]


def build(config) -> Objective:
    settings = Settings(**config.deepcluster.to_dict())
    k, dim = settings.clusters, config.model.target_dim

    def init_extra(key, num_examples, params):
        del params  # The classifier is fresh; the labels are set before the first step.
        if k > num_examples:
            raise UserError(
                f"deepcluster.clusters={k} is more than the {num_examples} training images; "
                "lower --config.deepcluster.clusters."
            )
        return {
            "labels": jnp.zeros(num_examples, jnp.int32),
            "weights": jnp.ones(k, jnp.float32),
            PARAMS: classifier(key, dim, k),
        }

    def refresh(key, outputs, state):
        kmeans_key, classifier_key = jax.random.split(key)
        x = pca_whiten(outputs, settings.pca_dim) if settings.pca_dim else l2_normalize(outputs)
        _, labels = kmeans(kmeans_key, x, k, settings.kmeans_iterations)
        return {
            **state,
            "labels": labels,
            "weights": cluster_weights(labels, k),
            PARAMS: classifier(classifier_key, dim, k),
        }

    return Objective(
        "deepcluster",
        views,
        lambda out, ids, state, ctx: loss(out, ids, state),
        init_extra=init_extra,
        refresh=refresh,
        refresh_every=settings.refresh_every,
    )


SPEC = Spec("deepcluster", "DeepCluster (k-means pseudo-labels each epoch)", build, defaults, check)

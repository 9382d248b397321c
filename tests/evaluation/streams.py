"""Feature sets for the protocols' tests: Gaussian blobs, streams of them (in memory, or
re-encoded on every pass by a device function that does some work), and weighted kNN written
out in numpy."""

import jax.numpy as jnp
import numpy as np

from natjax.evaluation.stream import FeatureStream, array_stream
from natjax.parallel import sharding


def blobs(seed, n, dims=20, classes=5, spread=5.0):
    """`n` points (and their labels) around `classes` random centres scaled by `spread`,
    drawn from `seed`: the same seed gives the same centres."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dims)) * spread
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(size=(n, dims)), y


def stream(x, y, chunk=64) -> FeatureStream:
    """Host features `x` as a stream on this process's mesh."""
    return array_stream(np.asarray(x, np.float32), y, chunk, sharding.make_mesh())


def reencoded(x, y, chunk=64, seed=0) -> FeatureStream:
    """The features `tanh(x W)` of host inputs `x`, computed on the devices chunk by chunk on
    every pass (a fixed random `W`, as a tiny frozen encoder)."""
    x = np.asarray(x, np.float32)
    w = jnp.asarray(np.random.default_rng(seed).normal(size=(x.shape[1], 16)) / 3, jnp.float32)
    mesh = sharding.make_mesh()
    return FeatureStream(
        lambda rows: x[rows], lambda v: jnp.tanh(v @ w), y, x.shape[1:], np.float32, chunk, mesh
    )


def in_memory_and_streamed(seed=2, spread=0.4):
    """Overlapping blobs as `(streamed, in_memory)`, each a `(train, test)` pair: the streams
    that re-encode, and the same features computed once and held (`FeatureStream.cached`)."""
    (x, y), (q, qy) = blobs(seed, 600, spread=spread), blobs(seed, 500, spread=spread)
    streamed = reencoded(x, y), reencoded(q[300:], qy[300:])  # Same centres, fresh points.
    return streamed, tuple(s.cached() for s in streamed)


def numpy_knn(bank, bank_y, queries, query_y, num_classes, k, temperature=0.07) -> float:
    """Weighted kNN top-1 by cosine similarity, written out: each query's `k` most similar
    bank rows vote for their label with weight `exp(similarity / temperature)`."""
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = queries @ bank.T
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(queries), num_classes))
    for i, row in enumerate(nearest):
        for j in row:
            votes[i, bank_y[j]] += np.exp(sims[i, j] / temperature)
    return float(np.mean(votes.argmax(1) == query_y))

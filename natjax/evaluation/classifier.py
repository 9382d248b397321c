"""The one way natjax fits a classifier on frozen features, for the linear and the MLP probes:
minibatch gradient steps over a `FeatureStream` of standardized features, each epoch a fresh
random order, then top-1 on a test stream.

Held in memory (`FeatureStream.cached`) or re-encoded chunk by chunk, a stream gives the same
chunks in the same order, so a probe's figure does not depend on `eval.max_feature_bytes`.
Memory stays O(chunk x D) beyond the labels either way.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from natjax.evaluation.stream import FeatureStream
from natjax.parallel.sharding import replicated

STD_EPS = 1e-6  # Added to each dimension's standard deviation.


def moments(stream: FeatureStream) -> tuple[jax.Array, jax.Array]:
    """Per-dimension mean and standard deviation (+`STD_EPS`) of the stream's valid rows, in
    one pass (Chan's merge, float64 on the host), replicated on its mesh."""
    count, mean, m2 = 0, 0.0, 0.0
    for chunk in stream.chunks():
        c, m, s = (np.asarray(a, np.float64) for a in _chunk_moments(chunk.x, chunk.valid))
        total = count + c
        delta = m - mean
        mean = mean + delta * (c / total)
        m2 = m2 + s + delta**2 * (count * c / total)
        count = total
    std = np.sqrt(m2 / count) + STD_EPS
    return tuple(
        jax.device_put(np.asarray(a, np.float32), replicated(stream.mesh)) for a in (mean, std)
    )


@jax.jit
def _chunk_moments(x, valid):
    """Count, mean and sum of squared deviations of the valid rows."""
    w = valid.astype(jnp.float32)[:, None]
    count = jnp.sum(w)
    mean = jnp.sum(x * w, 0) / count
    return count, mean, jnp.sum(jnp.square(x - mean) * w, 0)


def masked_cross_entropy(logits: jax.Array, y: jax.Array, valid: jax.Array) -> jax.Array:
    """Mean cross-entropy over the valid rows (the padding of a last chunk counts for none)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    return jnp.sum(ce * valid) / jnp.maximum(jnp.sum(valid), 1)


def steps_per_chunk(chunk: int, batch_size: int, devices: int) -> int:
    """How many minibatches of `batch_size` a chunk splits into (1 where it does not split into
    whole minibatches that split over the devices)."""
    s = chunk // batch_size
    return s if s and chunk % batch_size == 0 and batch_size % devices == 0 else 1


def num_steps(train: FeatureStream, epochs: int, batch_size: int) -> int:
    """The optimizer steps of `epochs` passes over `train` (for a schedule's length)."""
    s = steps_per_chunk(train.chunk, batch_size, train.mesh.devices.size)
    return epochs * -(-train.n // train.chunk) * s


def fit_and_score(
    train: FeatureStream,
    test: FeatureStream,
    params,
    loss: Callable,
    predict: Callable,
    tx: optax.GradientTransformation,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
) -> float:
    """Fits `params` to minimise `loss(params, x, y, valid)` over `epochs` random-order passes
    of `train`, on standardized features (`moments` of `train`); their top-1 on `test` under
    `predict(params, x) -> logits`."""
    params, mean, std = fit(
        train, params, loss, tx, epochs=epochs, batch_size=batch_size, seed=seed
    )
    count = jax.jit(functools.partial(_correct, predict=predict))
    correct = sum(int(count(params, (c.x - mean) / std, c.labels, c.valid)) for c in test.chunks())
    return correct / test.n


def fit(train: FeatureStream, params, loss: Callable, tx, *, epochs: int, batch_size: int, seed):
    """`fit_and_score`'s fit: the fitted `params` and the standardization `(mean, std)`."""
    mean, std = moments(train)
    params = jax.device_put(params, replicated(train.mesh))
    opt = tx.init(params)
    steps = steps_per_chunk(train.chunk, batch_size, train.mesh.devices.size)
    step = jax.jit(functools.partial(_chunk_steps, loss=loss, tx=tx, steps=steps))
    for epoch in range(epochs):
        for chunk in train.chunks(seed=(seed, epoch)):
            params, opt = step(params, opt, (chunk.x - mean) / std, chunk.labels, chunk.valid)
            jax.block_until_ready(params)  # One chunk's programs at a time: see `chunks`.
    return params, mean, std


def predictions(test: FeatureStream, params, predict: Callable, mean, std) -> np.ndarray:
    """`predict(params, x)` of every standardized test row, on the host `[n, K]`, in id order."""
    outputs = test.map(lambda x: predict(params, (x - mean) / std))
    return outputs.gather()


def _chunk_steps(params, opt, x, y, valid, *, loss, tx, steps):
    """`steps` optimizer steps, one per minibatch of the chunk: rows `j, j + steps, ...` make
    minibatch `j`, so each device's rows stay on it."""

    def split(a):
        return jnp.swapaxes(a.reshape(a.shape[0] // steps, steps, *a.shape[1:]), 0, 1)

    def one(carry, batch):
        p, o = carry
        grads = jax.grad(loss)(p, *batch)
        updates, o = tx.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), None

    return jax.lax.scan(one, (params, opt), (split(x), split(y), split(valid)))[0]


def _correct(params, x, y, valid, *, predict):
    return jnp.sum((jnp.argmax(predict(params, x), -1) == y) & valid)

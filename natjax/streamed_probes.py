"""The probes of `natjax.probes` on `FeatureStream`s: memory that does not grow with the number
of training examples beyond their labels.

- `moments`: standardisation statistics in one streaming pass (Chan's merge, float64 on host).
- `linear_probe_top1`: the same logistic regression as the L-BFGS probe (mean cross-entropy
  plus `l2 * ||W||^2` on standardized features), fitted by Adam on minibatches with a cosine
  schedule over a few epochs, each epoch a fresh random order.
- `mlp_probe_top1`: the MLP probe on streamed minibatches.
- `knn_top1`: weighted kNN with the test features split over the devices; the training
  features stream past in chunks, and each query keeps a running top-k, merged with each
  chunk's: memory O(queries x chunk) per pass, whatever the bank's size.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from natjax import probes
from natjax.feature_stream import FeatureStream, replicated


def moments(stream: FeatureStream) -> tuple[jax.Array, jax.Array]:
    """Per-dimension mean and standard deviation (+1e-6, as `probes.standardize`) of the
    stream's valid rows, replicated on its mesh."""
    count, mean, m2 = 0, 0.0, 0.0
    for chunk in stream.chunks():
        c, m, s = (np.asarray(a, np.float64) for a in _chunk_moments(chunk.x, chunk.valid))
        total = count + c
        delta = m - mean
        mean = mean + delta * (c / total)
        m2 = m2 + s + delta**2 * (count * c / total)
        count = total
    std = np.sqrt(m2 / count) + 1e-6
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


def linear_probe_top1(
    train: FeatureStream,
    test: FeatureStream,
    num_classes: int,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    l2: float = 1e-4,
    seed: int = 0,
) -> float:
    """Test top-1 of the linear probe fitted by minibatch Adam on streamed features."""
    params = {"w": jnp.zeros((train.dim, num_classes)), "b": jnp.zeros((num_classes,))}

    def loss(p, x, y, valid):
        return _masked_ce(_linear(p, x), y, valid) + l2 * jnp.sum(jnp.square(p["w"]))

    tx = optax.adam(_schedule(train, epochs, batch_size, learning_rate))
    return _fit_and_score(train, test, params, loss, _linear, tx, epochs, batch_size, seed)


def mlp_probe_top1(
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
    """Test top-1 of the MLP probe (`probes.mlp_probe_top1`'s model and AdamW) on streamed
    minibatches."""
    sizes = (train.dim, *widths, num_classes)
    keys = jax.random.split(jax.random.key(seed), len(sizes))
    params = probes.init_mlp(keys[1:], sizes)

    def loss(p, x, y, valid):
        return _masked_ce(probes.mlp(p, x), y, valid)

    tx = optax.adamw(learning_rate, weight_decay=weight_decay)
    return _fit_and_score(train, test, params, loss, probes.mlp, tx, epochs, batch_size, seed)


def _linear(p, x):
    return x @ p["w"] + p["b"]


def _masked_ce(logits, y, valid):
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    return jnp.sum(ce * valid) / jnp.maximum(jnp.sum(valid), 1)


def _steps_per_chunk(chunk: int, batch_size: int, devices: int) -> int:
    """How many minibatches of `batch_size` a chunk splits into (1 where it does not split into
    whole minibatches that split over the devices)."""
    s = chunk // batch_size
    return s if s and chunk % batch_size == 0 and batch_size % devices == 0 else 1


def _schedule(train: FeatureStream, epochs: int, batch_size: int, learning_rate: float):
    s = _steps_per_chunk(train.chunk, batch_size, train.mesh.devices.size)
    return optax.cosine_decay_schedule(learning_rate, epochs * -(-train.n // train.chunk) * s)


def _fit_and_score(train, test, params, loss, predict, tx, epochs, batch_size, seed) -> float:
    """Fits `params` to minimise `loss` over `epochs` random-order passes of `train`, on
    standardized features; their top-1 on `test`."""
    mean, std = moments(train)
    params = jax.device_put(params, replicated(train.mesh))
    opt = tx.init(params)
    steps = _steps_per_chunk(train.chunk, batch_size, train.mesh.devices.size)
    step = jax.jit(functools.partial(_chunk_steps, loss=loss, tx=tx, steps=steps))
    for epoch in range(epochs):
        for chunk in train.chunks(seed=(seed, epoch)):
            params, opt = step(params, opt, (chunk.x - mean) / std, chunk.labels, chunk.valid)
            jax.block_until_ready(params)  # One chunk's programs at a time: see `chunks`.
    count = jax.jit(functools.partial(_correct, predict=predict))
    correct = sum(int(count(params, (c.x - mean) / std, c.labels, c.valid)) for c in test.chunks())
    return correct / test.n


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


def knn_top1(
    train: FeatureStream,
    test: FeatureStream,
    num_classes: int,
    *,
    k: int = 200,
    temperature: float = 0.07,
) -> float:
    """Weighted kNN top-1 (`probes.knn_top1`'s rule) with the training features streamed."""
    queries = [(probes.unit(c.x), c.labels, c.valid) for c in test.chunks()]
    qx, qy, qvalid = (jnp.stack(parts) for parts in zip(*queries, strict=True))  # [m, chunk, ...]
    jax.block_until_ready(qx)  # The encoder's programs done before the collective merges.
    k = min(k, train.n)
    sims = jnp.full((*qy.shape, k), -jnp.inf)
    labels = jnp.zeros((*qy.shape, k), jnp.int32)
    merge = jax.jit(
        functools.partial(_merge_top_k, gathered=replicated(train.mesh)), donate_argnums=(0, 1)
    )
    for chunk in train.chunks():
        sims, labels = merge(sims, labels, qx, probes.unit(chunk.x), chunk.labels, chunk.valid)
        jax.block_until_ready(sims)  # One chunk's programs at a time: see `chunks`.
    votes = jnp.einsum(
        "mqk,mqkc->mqc", jnp.exp(sims / temperature), jax.nn.one_hot(labels, num_classes)
    )
    return int(jnp.sum((jnp.argmax(votes, -1) == qy) & qvalid)) / test.n


def _merge_top_k(sims, labels, queries, bank, bank_labels, bank_valid, *, gathered):
    """Each query's running top-k (`sims`, `labels` `[m, q, k]`) merged with its top-k in one
    chunk of unit bank rows; the chunk is gathered on every device, the queries stay split."""
    bank, bank_labels, bank_valid = jax.lax.with_sharding_constraint(
        (bank, bank_labels, bank_valid), gathered
    )
    new = jnp.einsum("mqd,bd->mqb", queries, bank)
    new = jnp.where(bank_valid, new, -jnp.inf)
    all_sims = jnp.concatenate([sims, new], -1)
    all_labels = jnp.concatenate([labels, jnp.broadcast_to(bank_labels, new.shape)], -1)
    sims, idx = jax.lax.top_k(all_sims, sims.shape[-1])
    return sims, jnp.take_along_axis(all_labels, idx, -1)

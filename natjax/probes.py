"""Evaluation protocols on frozen features: a linear probe, an MLP probe and weighted kNN."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean, unit variance per dimension, with statistics of the train split."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    return (train - mean) / std, (test - mean) / std


def linear_probe_top1(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int,
    *,
    steps: int = 300,
    l2: float = 1e-4,
) -> float:
    """Test top-1 of multinomial logistic regression on standardized features.

    Full-batch L-BFGS on the mean cross-entropy plus `l2 * ||W||^2`: deterministic and free of a
    learning rate, so every feature set (NAT, random init, raw pixels) gets the same treatment.
    """
    train_x, test_x = standardize(train_x.astype(np.float32), test_x.astype(np.float32))
    params = {
        "w": jnp.zeros((train_x.shape[1], num_classes)),
        "b": jnp.zeros((num_classes,)),
    }
    fit = jax.jit(functools.partial(_fit, steps=steps, l2=l2))
    params = fit(params, jnp.asarray(train_x), jnp.asarray(train_y))
    logits = jnp.asarray(test_x) @ params["w"] + params["b"]
    return float(jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(test_y)))


def _fit(params, x, y, *, steps, l2):
    def loss_fn(p):
        logits = x @ p["w"] + p["b"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return ce + l2 * jnp.sum(jnp.square(p["w"]))

    tx = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss_fn)

    def step(_, carry):
        p, opt = carry
        value, grad = value_and_grad(p, state=opt)
        updates, opt = tx.update(grad, opt, p, value=value, grad=grad, value_fn=loss_fn)
        return optax.apply_updates(p, updates), opt

    return jax.lax.fori_loop(0, steps, step, (params, tx.init(params)))[0]


def knn_top1(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int,
    *,
    k: int = 200,
    temperature: float = 0.07,
    chunk: int = 512,
) -> float:
    """Weighted kNN (Wu et al., 2018): the k nearest train points by cosine similarity vote for
    their label with weight `exp(similarity / temperature)`."""
    train = unit(jnp.asarray(train_x, jnp.float32))
    labels = jax.nn.one_hot(jnp.asarray(train_y), num_classes)  # [n, classes]
    k = min(k, train.shape[0])
    predict = jax.jit(functools.partial(knn_predict, k=k, temperature=temperature))
    test = np.asarray(test_x, np.float32)
    correct = 0
    for start in range(0, len(test), chunk):
        query = unit(jnp.asarray(test[start : start + chunk]))
        pred = predict(query, train, labels)
        correct += int(jnp.sum(pred == jnp.asarray(test_y[start : start + chunk])))
    return correct / len(test)


def unit(x):
    """Rows scaled to unit length (zero rows stay near zero)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-6)


def knn_predict(query, train, labels, *, k, temperature, train_mask=None):
    """Each unit query's class by weighted kNN over unit `train` rows with one-hot `labels`
    (rows where `train_mask` is False never vote)."""
    sims = query @ train.T
    if train_mask is not None:
        sims = jnp.where(train_mask, sims, -jnp.inf)
    sims, idx = jax.lax.top_k(sims, k)  # [q, k]
    votes = jnp.einsum("qk,qkc->qc", jnp.exp(sims / temperature), labels[idx])
    return jnp.argmax(votes, -1)


def init_mlp(keys, sizes: tuple[int, ...]) -> list[dict]:
    """He-initialised layers `sizes[i] -> sizes[i + 1]`, one key each, zero biases."""
    return [
        {"w": jax.random.normal(k, (m, n)) * jnp.sqrt(2.0 / m), "b": jnp.zeros(n)}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp_probe_top1(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    num_classes: int,
    *,
    widths: tuple[int, ...] = (512,),
    epochs: int = 10,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> float:
    """Test top-1 of an MLP classifier (ReLU hidden layers of `widths`) trained with AdamW on
    standardized frozen features: the paper's protocol on convolutional features."""
    train_x, test_x = standardize(train_x.astype(np.float32), test_x.astype(np.float32))
    sizes = (train_x.shape[1], *widths, num_classes)
    keys = jax.random.split(jax.random.key(seed), len(sizes))
    params = init_mlp(keys[1:], sizes)
    tx = optax.adamw(learning_rate, weight_decay=weight_decay)
    batch_size = min(batch_size, len(train_x))
    fit = jax.jit(functools.partial(_fit_mlp, tx=tx, epochs=epochs, batch_size=batch_size))
    params = fit(params, jnp.asarray(train_x), jnp.asarray(train_y), keys[0])
    logits = mlp(params, jnp.asarray(test_x))
    return float(jnp.mean(jnp.argmax(logits, -1) == jnp.asarray(test_y)))


def mlp(params, x):
    """The MLP probe's logits: ReLU hidden layers, then a linear output."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def _fit_mlp(params, x, y, key, *, tx, epochs, batch_size):
    steps = x.shape[0] // batch_size  # Each epoch drops a different remainder.

    def loss_fn(p, xb, yb):
        return optax.softmax_cross_entropy_with_integer_labels(mlp(p, xb), yb).mean()

    def step(carry, idx):
        p, opt = carry
        grads = jax.grad(loss_fn)(p, x[idx], y[idx])
        updates, opt = tx.update(grads, opt, p)
        return (optax.apply_updates(p, updates), opt), None

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, x.shape[0])[: steps * batch_size]
        return jax.lax.scan(step, carry, order.reshape(steps, batch_size))[0], None

    carry = (params, tx.init(params))
    return jax.lax.scan(epoch, carry, jax.random.split(key, epochs))[0][0]

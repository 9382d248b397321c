"""Evaluation protocols on frozen features: a linear probe and a weighted kNN classifier."""

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
    train = _unit(jnp.asarray(train_x, jnp.float32))
    labels = jax.nn.one_hot(jnp.asarray(train_y), num_classes)  # [n, classes]
    k = min(k, train.shape[0])
    predict = jax.jit(functools.partial(_knn_predict, k=k, temperature=temperature))
    test = np.asarray(test_x, np.float32)
    correct = 0
    for start in range(0, len(test), chunk):
        query = _unit(jnp.asarray(test[start : start + chunk]))
        pred = predict(query, train, labels)
        correct += int(jnp.sum(pred == jnp.asarray(test_y[start : start + chunk])))
    return correct / len(test)


def _unit(x):
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-6)


def _knn_predict(query, train, labels, *, k, temperature):
    sims, idx = jax.lax.top_k(query @ train.T, k)  # [q, k]
    votes = jnp.einsum("qk,qkc->qc", jnp.exp(sims / temperature), labels[idx])
    return jnp.argmax(votes, -1)

"""Small functional layers that objectives and probes share: unit normalisation and a plain MLP
(the SimSiam and BYOL predictors, the MLP probe), as pytrees of arrays outside Flax."""

import jax
import jax.numpy as jnp


def l2_normalize(x: jax.Array, eps: float = 1e-6) -> jax.Array:
    """Rows of `x` divided by their L2 norm (kept finite for an all-zero row)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)


def init_mlp(keys, sizes: tuple[int, ...]) -> list[dict]:
    """He-initialised layers `sizes[i] -> sizes[i + 1]`, one key each, zero biases."""
    return [
        {"w": jax.random.normal(k, (m, n)) * jnp.sqrt(2.0 / m), "b": jnp.zeros(n)}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp(params: list[dict], x: jax.Array) -> jax.Array:
    """The MLP's output: ReLU hidden layers, then a linear one."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]

"""The shared functional layers (`natjax.models.layers`): unit rows, and a plain MLP."""

import jax
import jax.numpy as jnp
import numpy as np

from natjax.models.layers import init_mlp, l2_normalize, mlp


def test_l2_normalize_makes_unit_rows_and_keeps_zero_rows_finite():
    out = l2_normalize(jnp.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    rows = l2_normalize(jax.random.normal(jax.random.key(0), (32, 8)))
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)


def test_init_mlp_is_he_initialised_with_zero_biases():
    layers = init_mlp(jax.random.split(jax.random.key(0), 2), (400, 300, 2))
    assert [layer["w"].shape for layer in layers] == [(400, 300), (300, 2)]
    assert all(not np.any(layer["b"]) for layer in layers)
    np.testing.assert_allclose(float(jnp.std(layers[0]["w"])), np.sqrt(2 / 400), rtol=0.02)


def test_mlp_is_relu_hidden_layers_then_a_linear_one():
    layers = init_mlp(jax.random.split(jax.random.key(1), 3), (3, 5, 4, 2))
    layers = [{"w": layer["w"], "b": layer["b"] + 0.1} for layer in layers]
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    w = [(np.asarray(layer["w"]), np.asarray(layer["b"])) for layer in layers]
    expected = np.maximum(np.maximum(x @ w[0][0] + w[0][1], 0) @ w[1][0] + w[1][1], 0)
    expected = expected @ w[2][0] + w[2][1]
    np.testing.assert_allclose(mlp(layers, jnp.asarray(x)), expected, rtol=1e-5, atol=1e-6)

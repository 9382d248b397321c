"""The model of a config (`natjax.models.create_model`): its encoder by name, its compute
dtype."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs.nat import get_config
from natjax import models


def test_unknown_encoder_is_named():
    config = get_config()
    config.model.encoder = "vgg"
    with pytest.raises(ValueError, match="vgg"):
        models.create_model(config)


def test_bfloat16_computes_in_bfloat16_and_keeps_float32_parameters_and_outputs():
    config = get_config("default")
    images = np.random.default_rng(0).integers(0, 255, (4, 28, 28, 1)).astype(np.uint8)
    outputs = {}
    for dtype in ("float32", "bfloat16"):
        config.model.dtype = dtype
        model = models.create_model(config)
        variables = jax.jit(functools.partial(model.init, train=False))(jax.random.key(0), images)
        assert {x.dtype for x in jax.tree.leaves(variables)} == {jnp.dtype("float32")}
        apply = functools.partial(model.apply, train=False)
        jaxpr = str(jax.make_jaxpr(apply)(variables, images))
        assert ("bf16[" in jaxpr) == (dtype == "bfloat16")
        outputs[dtype] = jax.jit(apply)(variables, images)
    for full, half in zip(outputs["float32"], outputs["bfloat16"], strict=True):
        assert half.dtype == jnp.float32
        scale = float(jnp.abs(full).max())
        np.testing.assert_allclose(half, full, atol=0.05 * scale)  # bf16 keeps ~3 digits.
        assert not np.array_equal(half, full)

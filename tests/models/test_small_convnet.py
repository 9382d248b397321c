"""The small convnet (`natjax.models.small_convnet`): its parameters and its two pools."""

import jax
import jax.numpy as jnp
import numpy as np

from configs.nat import get_config
from natjax import models
from tests.models.counts import conv_bn, encoder_params


def test_small_convnet_parameter_count():
    config = get_config()
    count, (h, z) = encoder_params(config, (28, 28, 1))
    assert count == conv_bn(3, 2, 32) + conv_bn(3, 32, 64) + conv_bn(3, 64, 128)
    assert h.shape == (1, 7 * 7 * 128) and z.shape == (1, 64)


def test_small_convnet_average_pool_is_the_mean_of_the_flattened_map():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 28, 28, 2)), jnp.float32)
    flat = models.SmallConvNet()
    variables = jax.jit(lambda k: flat.init(k, x, train=False))(jax.random.key(0))
    h_avg = jax.jit(lambda v: models.SmallConvNet(pool="avg").apply(v, x, train=False))(variables)
    h_flat = jax.jit(lambda v: flat.apply(v, x, train=False))(variables)
    assert h_avg.shape == (3, 128)
    np.testing.assert_allclose(h_avg, h_flat.reshape(3, 49, 128).mean(1), rtol=1e-5, atol=1e-6)

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs.nat import get_config
from natjax import models


def encoder_params(config, image_shape):
    model = models.create_model(config)
    images = jnp.zeros((1, *image_shape), jnp.uint8)
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), images, train=False))
    outputs = jax.eval_shape(lambda v: model.apply(v, images, train=False), variables)
    count = sum(x.size for x in jax.tree.leaves(variables["params"]["encoder"]))
    return count, outputs


def conv_bn(k, cin, cout):  # A bias-free conv followed by batch norm's scale and offset.
    return k * k * cin * cout + 2 * cout


def test_resnet18_matches_torchvisions_parameter_count():
    config = get_config("cifar10")
    config.model.cifar_stem = False
    config.input.filter = "raw"  # RGB input, as torchvision's resnet18.
    count, (h, _) = encoder_params(config, (224, 224, 3))
    # torchvision resnet18: 11,689,512 parameters, less its 512 x 1000 + 1000 classifier.
    assert count == 11_689_512 - 513_000
    assert h.shape == (1, 512)


def test_resnet18_cifar_stem_keeps_32px_resolution_and_takes_sobel_input():
    count, (h, z) = encoder_params(get_config("cifar10"), (32, 32, 3))
    assert count == 11_689_512 - 513_000 - 7 * 7 * 3 * 64 + 3 * 3 * 2 * 64
    assert h.shape == (1, 512) and z.shape == (1, 128)


def test_resnet50_matches_torchvisions_parameter_count():
    config = get_config("cifar10")
    config.model.encoder = "resnet50"
    config.model.cifar_stem = False
    config.input.filter = "raw"
    count, (h, _) = encoder_params(config, (224, 224, 3))
    # torchvision resnet50: 25,557,032 parameters, less its 2048 x 1000 + 1000 classifier.
    assert count == 25_557_032 - 2_049_000
    assert h.shape == (1, 2048)


def test_small_convnet_parameter_count():
    config = get_config()
    count, (h, z) = encoder_params(config, (28, 28, 1))
    assert count == conv_bn(3, 2, 32) + conv_bn(3, 32, 64) + conv_bn(3, 64, 128)
    assert h.shape == (1, 7 * 7 * 128) and z.shape == (1, 64)


def test_small_convnet_average_pool_is_the_mean_of_the_flattened_map():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 28, 28, 2)), jnp.float32)
    flat = models.SmallConvNet()
    variables = flat.init(jax.random.key(0), x, train=False)
    h_avg = models.SmallConvNet(pool="avg").apply(variables, x, train=False)
    h_flat = flat.apply(variables, x, train=False)
    assert h_avg.shape == (3, 128)
    np.testing.assert_allclose(h_avg, h_flat.reshape(3, 49, 128).mean(1), rtol=1e-5, atol=1e-6)


def test_alexnet_bn_parameter_count_and_pool5_shape():
    config = get_config("imagenet")
    count, (h, z) = encoder_params(config, (224, 224, 3))
    expected = (
        conv_bn(11, 2, 96)
        + conv_bn(5, 96, 256)
        + conv_bn(3, 256, 384)
        + conv_bn(3, 384, 384)
        + conv_bn(3, 384, 256)
    )
    assert count == expected
    assert h.shape == (1, 6 * 6 * 256) and z.shape == (1, 4096)


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
        variables = model.init(jax.random.key(0), images, train=False)
        assert {x.dtype for x in jax.tree.leaves(variables)} == {jnp.dtype("float32")}
        apply = functools.partial(model.apply, train=False)
        jaxpr = str(jax.make_jaxpr(apply)(variables, images))
        assert ("bf16[" in jaxpr) == (dtype == "bfloat16")
        outputs[dtype] = model.apply(variables, images, train=False)
    for full, half in zip(outputs["float32"], outputs["bfloat16"], strict=True):
        assert half.dtype == jnp.float32
        scale = float(jnp.abs(full).max())
        np.testing.assert_allclose(half, full, atol=0.05 * scale)  # bf16 keeps ~3 digits.
        assert not np.array_equal(half, full)

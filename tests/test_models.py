import jax
import jax.numpy as jnp
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
    config.input.sobel = False  # RGB input, as torchvision's resnet18.
    count, (h, _) = encoder_params(config, (224, 224, 3))
    # torchvision resnet18: 11,689,512 parameters, less its 512 x 1000 + 1000 classifier.
    assert count == 11_689_512 - 513_000
    assert h.shape == (1, 512)


def test_resnet18_cifar_stem_keeps_32px_resolution_and_takes_sobel_input():
    count, (h, z) = encoder_params(get_config("cifar10"), (32, 32, 3))
    assert count == 11_689_512 - 513_000 - 7 * 7 * 3 * 64 + 3 * 3 * 2 * 64
    assert h.shape == (1, 512) and z.shape == (1, 128)


def test_small_convnet_parameter_count():
    config = get_config()
    count, (h, z) = encoder_params(config, (28, 28, 1))
    assert count == conv_bn(3, 2, 32) + conv_bn(3, 32, 64) + conv_bn(3, 64, 128)
    assert h.shape == (1, 7 * 7 * 128) and z.shape == (1, 64)


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

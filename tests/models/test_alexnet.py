"""AlexNet with batch norm (`natjax.models.alexnet`), the paper's ImageNet encoder."""

from configs.nat import get_config
from tests.models.counts import conv_bn, encoder_params


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

"""The model's FLOPs from its jaxpr (`natjax.bench.flops`), against the published counts."""

import flax.linen as nn
import jax
import numpy as np

from natjax.bench import flops, step
from natjax.models import create_model


def _image_macs(encoder: str, size: int, input_filter: str) -> float:
    """The MACs per image of `encoder` as the step benchmark configures it."""
    config = step._config(encoder)
    config.input.filter = input_filter
    return flops.image_flops(create_model(config), (size, size, 3)) / 2


def test_flop_count_of_one_dense_and_one_grouped_strided_conv():
    class Two(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(8, (3, 3), (2, 2), feature_group_count=2)(x)  # [1, 6, 6, 4] -> [1, 3, 3, 8]
            return nn.Dense(5)(x.reshape(1, -1))  # 72 -> 5

    x = jax.ShapeDtypeStruct((1, 6, 6, 4), np.float32)
    variables = jax.eval_shape(Two().init, jax.random.PRNGKey(0), x)
    jaxpr = jax.make_jaxpr(Two().apply)(variables, x)
    # 72 outputs x 9 taps x 2 input features per group, then 72 x 5.
    assert flops.macs(jaxpr) == 72 * 9 * 2 + 72 * 5


def test_flop_count_enters_scan_cond_and_remat():
    def f(x):
        x = jax.lax.scan(lambda c, _: (c @ c, None), x, None, length=3)[0]  # 3 x 64 MACs.
        x = jax.lax.cond(x[0, 0] > 0, lambda a: a @ a, lambda a: a @ a @ a, x)  # The costlier.
        return jax.jit(jax.checkpoint(lambda a: jax.nn.relu(a) @ a))(x)  # 64.

    assert flops.macs(jax.make_jaxpr(f)(np.ones((4, 4), np.float32))) == (3 + 2 + 1) * 64


def test_flop_count_of_resnet50_at_224px_is_the_published_one():
    # torchvision's ResNet-50 (v1.5): 4.09 G multiply-adds, plus the NAT head of the `imagenet`
    # preset (2048 -> 4096 -> 4096 -> 4096: 41.9 M).
    published = 4.09e9 + (2048 + 4096 + 4096) * 4096
    assert abs(_image_macs("resnet50", 224, "raw") / published - 1) < 0.01


def test_flop_count_of_the_cifar_resnet18_is_the_published_one():
    # kuangliu/pytorch-cifar's ResNet18 (3x3 stem, no max-pool, 10-way fc): 0.556 G MACs.
    macs = _image_macs("resnet18", 32, "raw")
    assert abs(macs / 0.556e9 - 1) < 0.005
    # Sobel's 2 channels take a third of the stem's 1.77 M MACs (32 x 32 x 64 x 9 x 1) and
    # add the filter's own (32 x 32 x (3 + 9 x 2)).
    assert _image_macs("resnet18", 32, "sobel") == macs - 32 * 32 * 64 * 9 + 32 * 32 * 21

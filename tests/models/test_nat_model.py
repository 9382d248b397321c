"""The network NAT trains (`natjax.models.nat_model`): filter, encoder, then the head."""

import jax
import jax.numpy as jnp
import numpy as np

from natjax.models import NATModel, SmallConvNet


def test_the_head_is_its_hidden_layers_then_the_projection_on_the_filtered_image():
    model = NATModel(SmallConvNet((4,)), target_dim=3, head_widths=(5, 6))
    images = np.random.default_rng(0).integers(0, 255, (2, 8, 8, 1)).astype(np.uint8)
    variables = jax.jit(lambda k: model.init(k, images, train=False))(jax.random.key(0))
    params = variables["params"]
    assert params["encoder"]["Conv_0"]["kernel"].shape == (3, 3, 2, 4)  # Sobel's 2 channels.
    kernels = [params[f"Dense_{i}"]["kernel"].shape for i in range(3)]
    assert kernels == [(8 * 8 * 4, 5), (5, 6), (6, 3)]
    assert set(variables["batch_stats"]) == {"encoder", "BatchNorm_0", "BatchNorm_1"}
    h, z = jax.jit(lambda v: model.apply(v, images, train=False))(variables)
    assert h.shape == (2, 256) and z.shape == (2, 3) and h.dtype == z.dtype == jnp.float32
    linear = NATModel(SmallConvNet((4,)), target_dim=3, input_filter="raw")
    shapes = jax.eval_shape(lambda k: linear.init(k, images, train=False), jax.random.key(0))
    assert set(shapes["params"]) == {
        "encoder",
        "Dense_0",
    }

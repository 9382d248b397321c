"""The fixed input filters (`natjax.models.filters`): Sobel gradients, high-pass, raw."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import correlate2d

from natjax.models import filters


def test_sobel_of_a_horizontal_ramp_is_a_constant_x_gradient():
    ramp = jnp.tile(jnp.arange(8.0), (8, 1))[None, :, :, None]  # [1, 8, 8, 1], +1 per column.
    grad = filters.sobel(ramp)
    assert grad.shape == (1, 8, 8, 2)
    interior = grad[0, 1:-1, 1:-1]
    np.testing.assert_allclose(interior[..., 0], -8.0)  # [1, 2, 1] x [1, 0, -1]: -(1+2+1)*2.
    np.testing.assert_allclose(interior[..., 1], 0.0)


def test_sobel_ignores_colour_through_grayscale():
    rgb = jax.random.uniform(jax.random.key(0), (2, 6, 6, 3))
    gray = (rgb @ jnp.array([0.299, 0.587, 0.114]))[..., None]
    np.testing.assert_allclose(filters.sobel(rgb), filters.sobel(gray), atol=1e-5)


def test_highpass_is_the_image_minus_its_binomial_blur():
    x = np.random.default_rng(0).uniform(size=(2, 10, 10, 3)).astype(np.float32)
    out = np.asarray(filters.highpass(jnp.asarray(x)))
    assert out.shape == x.shape
    for c in range(3):  # Each channel alike, checked away from the zero-padded border.
        blurred = correlate2d(x[0, :, :, c], filters.BLUR, "valid")
        np.testing.assert_allclose(
            out[0, 2:-2, 2:-2, c], 4 * (x[0, 2:-2, 2:-2, c] - blurred), atol=1e-5
        )
    flat = np.asarray(filters.highpass(jnp.full((1, 9, 9, 1), 0.7)))
    np.testing.assert_allclose(flat[0, 2:-2, 2:-2], 0.0, atol=1e-6)  # No constant passes.


@pytest.mark.parametrize(("name", "channels"), [("sobel", 2), ("highpass", 3), ("raw", 3)])
def test_each_input_filter_keeps_the_size(name, channels):
    x = jnp.zeros((2, 6, 6, 3))
    assert filters.apply_filter(x, name).shape == (2, 6, 6, channels)


def test_unknown_input_filter_names_the_choices():
    with pytest.raises(ValueError, match="use one of sobel, highpass, raw"):
        filters.apply_filter(jnp.zeros((1, 4, 4, 1)), "blur")


def test_images_become_floats_in_the_unit_interval_and_raw_input_is_centred():
    images = jnp.array([[[[0], [51], [255]]]], jnp.uint8)  # [1, 1, 3, 1]
    x = filters.to_float(images)
    assert x.dtype == jnp.float32
    np.testing.assert_allclose(x[0, 0, :, 0], [0.0, 0.2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(filters.apply_filter(x, "raw")[0, 0, :, 0], [-1.0, -0.6, 1.0])

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import correlate2d

from natjax import preprocess


def test_sobel_of_a_horizontal_ramp_is_a_constant_x_gradient():
    ramp = jnp.tile(jnp.arange(8.0), (8, 1))[None, :, :, None]  # [1, 8, 8, 1], +1 per column.
    grad = preprocess.sobel(ramp)
    assert grad.shape == (1, 8, 8, 2)
    interior = grad[0, 1:-1, 1:-1]
    np.testing.assert_allclose(interior[..., 0], -8.0)  # [1, 2, 1] x [1, 0, -1]: -(1+2+1)*2.
    np.testing.assert_allclose(interior[..., 1], 0.0)


def test_sobel_ignores_colour_through_grayscale():
    rgb = jax.random.uniform(jax.random.key(0), (2, 6, 6, 3))
    gray = (rgb @ jnp.array([0.299, 0.587, 0.114]))[..., None]
    np.testing.assert_allclose(preprocess.sobel(rgb), preprocess.sobel(gray), atol=1e-5)


def test_crop_without_padding_at_full_size_is_the_image_or_its_mirror():
    images = jax.random.randint(jax.random.key(1), (16, 5, 5, 1), 0, 255).astype(jnp.uint8)
    out = preprocess.random_crop_flip(jax.random.key(2), images, 5, 0, flip=True)
    same = jnp.all(out == images, axis=(1, 2, 3))
    mirrored = jnp.all(out == images[:, :, ::-1], axis=(1, 2, 3))
    assert bool(jnp.all(same | mirrored)) and 0 < int(jnp.sum(mirrored)) < 16


def test_padded_crops_are_shifted_windows():
    images = jnp.arange(36, dtype=jnp.float32).reshape(1, 6, 6, 1).repeat(8, 0) + 1
    out = preprocess.random_crop_flip(jax.random.key(3), images, 6, 2, flip=False)
    assert out.shape == (8, 6, 6, 1)
    padded = np.pad(np.asarray(images[0, :, :, 0]), 2)
    for crop in np.asarray(out[..., 0]):
        assert any(
            np.array_equal(crop, padded[r : r + 6, c : c + 6]) for r in range(5) for c in range(5)
        )


def test_center_crop():
    images = jnp.arange(16).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(preprocess.center_crop(images, 2)[0, :, :, 0], [[5, 6], [9, 10]])


def test_highpass_is_the_image_minus_its_binomial_blur():
    x = np.random.default_rng(0).uniform(size=(2, 10, 10, 3)).astype(np.float32)
    out = np.asarray(preprocess.highpass(jnp.asarray(x)))
    assert out.shape == x.shape
    for c in range(3):  # Each channel alike, checked away from the zero-padded border.
        blurred = correlate2d(x[0, :, :, c], preprocess.BLUR, "valid")
        np.testing.assert_allclose(
            out[0, 2:-2, 2:-2, c], 4 * (x[0, 2:-2, 2:-2, c] - blurred), atol=1e-5
        )
    flat = np.asarray(preprocess.highpass(jnp.full((1, 9, 9, 1), 0.7)))
    np.testing.assert_allclose(flat[0, 2:-2, 2:-2], 0.0, atol=1e-6)  # No constant passes.


@pytest.mark.parametrize(("name", "channels"), [("sobel", 2), ("highpass", 3), ("raw", 3)])
def test_each_input_filter_keeps_the_size(name, channels):
    x = jnp.zeros((2, 6, 6, 3))
    assert preprocess.apply_filter(x, name).shape == (2, 6, 6, channels)


def test_unknown_input_filter_names_the_choices():
    with pytest.raises(ValueError, match="use one of sobel, highpass, raw"):
        preprocess.apply_filter(jnp.zeros((1, 4, 4, 1)), "blur")

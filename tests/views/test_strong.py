"""Strong views (`natjax.views.strong`): SimCLR's random resized crops, colour jitter,
grayscale, blur and solarisation, each a pure function of its key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax.views import ViewSpec
from natjax.views import strong as views

PLAIN = ViewSpec(min_scale=1.0, jitter_prob=0.0, grayscale_prob=0.0, flip=False)


def _images(b=6, side=16, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (b, side, side, channels), np.uint8)


def test_a_full_crop_at_the_same_size_with_nothing_else_is_the_image():
    """min_scale 1 with the aspect ratio drawn in [3/4, 4/3]: the box is clipped to the whole
    image only when the ratio is 1, so check the resampling itself on a whole-image box."""
    x = jnp.asarray(_images(), jnp.float32) / 255
    b, side = x.shape[0], x.shape[1]
    whole = (jnp.zeros(b), jnp.zeros(b), jnp.full(b, float(side)), jnp.full(b, float(side)))
    np.testing.assert_allclose(views.resized_crops(x, whole, side), x, atol=1e-6)


def test_a_crop_box_resamples_the_pixels_it_covers():
    """At scale 1 an integer box is the image's slice; at half the size, each output pixel is
    a mean of its 2 x 2 block's neighbourhood, so a flat box stays flat."""
    x = jnp.asarray(_images(b=1, side=8), jnp.float32)
    box = (jnp.array([2.0]), jnp.array([3.0]), jnp.array([4.0]), jnp.array([4.0]))
    np.testing.assert_allclose(views.resized_crops(x, box, 4)[0], x[0, 2:6, 3:7], atol=1e-4)
    flat = x.at[:, :, :6].set(7.0)  # Wider than the box: the antialiasing filter reaches out.
    half = (jnp.array([2.0]), jnp.array([0.0]), jnp.array([4.0]), jnp.array([4.0]))
    np.testing.assert_allclose(views.resized_crops(flat, half, 2), 7.0, atol=1e-4)


def test_crop_boxes_stay_inside_the_image_and_cover_the_asked_area():
    top, left, h, w = views.crop_boxes(jax.random.key(0), 1000, 32, 24, 0.3)
    assert float(jnp.min(top)) >= 0 and float(jnp.max(top + h)) <= 32 + 1e-4
    assert float(jnp.min(left)) >= 0 and float(jnp.max(left + w)) <= 24 + 1e-4
    share = h * w / (32 * 24)
    assert float(jnp.max(share)) <= 1 + 1e-5 and float(jnp.min(share)) >= 0.3 * 0.75 - 1e-5
    assert 0.5 < float(jnp.mean(share)) < 0.7  # Uniform in [0.3, 1], a little lost to clips.


def test_views_are_uint8_of_the_asked_size_and_a_pure_function_of_the_key():
    images = jnp.asarray(_images())
    spec = ViewSpec(blur_prob=0.5, solarize_prob=0.2)
    fn = jax.jit(views.strong_view, static_argnums=(2, 3))
    a = fn(jax.random.key(1), images, 12, spec)
    assert a.dtype == jnp.uint8 and a.shape == (6, 12, 12, 3)
    np.testing.assert_array_equal(a, fn(jax.random.key(1), images, 12, spec))
    assert not np.array_equal(a, fn(jax.random.key(2), images, 12, spec))


def test_grayscale_and_solarize_when_always_drawn():
    images = jnp.asarray(_images())
    key = jax.random.key(3)
    grey = views.strong_view(
        key, images, 16, PLAIN.__class__(**{**PLAIN.__dict__, "grayscale_prob": 1.0})
    )
    assert np.ptp(np.asarray(grey, np.int32), axis=-1).max() <= 1  # Equal channels (rounding).
    plain = views.strong_view(key, images, 16, PLAIN)
    solar = views.strong_view(key, images, 16, ViewSpec(**{**PLAIN.__dict__, "solarize_prob": 1.0}))
    assert int(np.asarray(solar).max()) <= 128
    bright = np.asarray(plain) >= 128
    np.testing.assert_allclose(np.asarray(solar)[bright], 255 - np.asarray(plain)[bright], atol=1)


def test_colour_jitter_factors_stay_in_range():
    """Brightness alone on a mid-grey image: every factor lies in [1 - j, 1 + j], and both ends
    are reached; one-channel images take brightness and contrast only."""
    x = jnp.full((2000, 2, 2, 1), 0.5)
    out = views.colour_jitter(jax.random.key(0), x, 0.4, 0.1)  # Contrast keeps a flat image.
    factors = np.asarray(out[:, 0, 0, 0]) / 0.5
    assert factors.min() >= 0.6 - 1e-6 and factors.max() <= 1.4 + 1e-6
    assert factors.min() < 0.62 and factors.max() > 1.38


def test_hue_rotation_keeps_grey_and_luma():
    grey = jnp.full((4, 2, 2, 3), 0.3)
    np.testing.assert_allclose(
        views.colour_jitter(jax.random.key(0), grey, 0.0, 0.5), grey, atol=1e-5
    )
    colour = jnp.asarray(_images(b=4, side=2), jnp.float32) / 255 * 0.5 + 0.25  # No clipping.
    out = views.colour_jitter(jax.random.key(1), colour, 0.0, 0.5)
    np.testing.assert_allclose(views.gray(out), views.gray(colour), atol=1e-5)
    assert not np.allclose(out, colour)


@pytest.mark.parametrize("side", [8, 224])
def test_blur_keeps_a_flat_image_and_smooths_noise(side):
    """At 224 px it smooths noise; at 8 px SimCLR's sigma scales below a pixel, so it hardly
    changes anything (as CIFAR recipes, which leave the blur out)."""
    flat = jnp.full((3, side, side, 1), 0.25)
    np.testing.assert_allclose(views.gaussian_blur(jax.random.key(0), flat), flat, atol=1e-6)
    noise = jnp.asarray(_images(b=3, side=side, channels=1), jnp.float32) / 255
    blurred = float(jnp.std(views.gaussian_blur(jax.random.key(0), noise)))
    assert blurred <= (0.8 if side == 224 else 1.0) * float(jnp.std(noise))

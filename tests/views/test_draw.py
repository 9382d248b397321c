"""The views a step draws (`natjax.views.draw`): the paper's crop and flip or a strong view,
and the contrastive objectives' two strong views, each a pure function of the key."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from natjax.objectives import StepConfig
from natjax.views import ViewSpec, center_crop, random_crop_flip, strong_view, two_views, view

PAPER = StepConfig(steps_per_epoch=1, crop_size=6, crop_padding=1, flip=True)


def _images(b=8, side=8, channels=1, seed=0):
    return jnp.asarray(
        np.random.default_rng(seed).integers(0, 255, (b, side, side, channels)).astype(np.uint8)
    )


def test_a_view_is_the_paper_crop_unless_strong_views_are_set():
    images, key = _images(), jax.random.key(0)
    paper = view(key, images, PAPER)
    np.testing.assert_array_equal(paper, random_crop_flip(key, images, 6, 1, True))
    strong_cfg = dataclasses.replace(PAPER, views=ViewSpec())
    strong = view(key, images, strong_cfg)
    np.testing.assert_array_equal(strong, strong_view(key, images, 6, ViewSpec()))
    assert strong.shape == paper.shape == (8, 6, 6, 1) and strong.dtype == jnp.uint8
    assert not np.array_equal(strong, paper)


def test_two_views_are_view_one_of_every_image_then_view_two():
    images, key = _images(b=4, side=12, channels=3), jax.random.key(1)
    cfg = StepConfig(1, crop_size=8, crop_padding=0, flip=True)
    x = two_views(key, images, cfg)
    assert x.shape == (8, 8, 8, 3) and x.dtype == jnp.uint8
    first = strong_view(jax.random.fold_in(key, 1), images, 8, ViewSpec())  # The default spec.
    np.testing.assert_array_equal(x[:4], first)
    assert not np.array_equal(x[:4], x[4:])
    np.testing.assert_array_equal(two_views(key, images, cfg), x)  # The key decides.


def test_without_crops_or_flips_a_view_is_the_centre_of_the_image():
    images = _images(side=6)
    cfg = StepConfig(1, crop_size=6, crop_padding=0, flip=False)
    np.testing.assert_array_equal(view(jax.random.key(2), images, cfg), center_crop(images, 6))

"""The paper's views (`natjax.views.crops`): random crops of the padded image and flips, the
centre crop, and the shape the encoder sees."""

import jax
import jax.numpy as jnp
import numpy as np

from natjax.views import crops


def test_crop_without_padding_at_full_size_is_the_image_or_its_mirror():
    images = jax.random.randint(jax.random.key(1), (16, 5, 5, 1), 0, 255).astype(jnp.uint8)
    out = crops.random_crop_flip(jax.random.key(2), images, 5, 0, flip=True)
    same = jnp.all(out == images, axis=(1, 2, 3))
    mirrored = jnp.all(out == images[:, :, ::-1], axis=(1, 2, 3))
    assert bool(jnp.all(same | mirrored)) and 0 < int(jnp.sum(mirrored)) < 16


def test_padded_crops_are_shifted_windows():
    images = jnp.arange(36, dtype=jnp.float32).reshape(1, 6, 6, 1).repeat(8, 0) + 1
    out = crops.random_crop_flip(jax.random.key(3), images, 6, 2, flip=False)
    assert out.shape == (8, 6, 6, 1)
    padded = np.pad(np.asarray(images[0, :, :, 0]), 2)
    for crop in np.asarray(out[..., 0]):
        assert any(
            np.array_equal(crop, padded[r : r + 6, c : c + 6]) for r in range(5) for c in range(5)
        )


def test_center_crop():
    images = jnp.arange(16).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(crops.center_crop(images, 2)[0, :, :, 0], [[5, 6], [9, 10]])


def test_the_model_input_is_the_crop_of_the_stored_images():
    assert crops.model_input_shape((32, 32, 3), 0) == (32, 32, 3)
    assert crops.model_input_shape((256, 256, 3), 224) == (224, 224, 3)

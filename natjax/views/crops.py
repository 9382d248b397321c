"""The paper's views on device: random crops of the zero-padded image and horizontal flips for
training, the centre crop for evaluation."""

import jax
import jax.numpy as jnp


def random_crop_flip(
    rng: jax.Array, images: jax.Array, crop_size: int, padding: int, flip: bool
) -> jax.Array:
    """Per-image random `crop_size` crop of the zero-padded batch, then a random h-flip."""
    b = images.shape[0]
    if padding:
        images = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    crop_key, flip_key = jax.random.split(rng)
    max_offset = jnp.array(images.shape[1:3]) - crop_size
    offsets = jax.random.randint(crop_key, (b, 2), 0, max_offset + 1)

    def crop(image, offset):
        size = (crop_size, crop_size, image.shape[-1])
        return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), size)

    images = jax.vmap(crop)(images, offsets)
    if flip:
        flips = jax.random.bernoulli(flip_key, 0.5, (b, 1, 1, 1))
        images = jnp.where(flips, images[:, :, ::-1], images)
    return images


def model_input_shape(image_shape: tuple[int, ...], crop_size: int) -> tuple[int, int, int]:
    """The `[H, W, C]` the encoder sees: the crop of the stored images (`crop_size` 0: all)."""
    side = crop_size or image_shape[0]
    return (side, side, image_shape[-1])


def center_crop(images: jax.Array, crop_size: int) -> jax.Array:
    """The central `crop_size` square of each image (evaluation-time view)."""
    top = (images.shape[1] - crop_size) // 2
    left = (images.shape[2] - crop_size) // 2
    return images[:, top : top + crop_size, left : left + crop_size]

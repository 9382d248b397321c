"""Strong random views on device, as SimCLR draws them: a random resized crop, a horizontal
flip, colour jitter, grayscale, Gaussian blur and solarisation, each image its own draw.

`strong_view` maps uint8 images `[b, H, W, C]` to uint8 views `[b, S, S, C]` (the model's
input type, so a view can replace the paper's crop and flip anywhere), a pure function of its
key: a run that draws its keys from `(seed, step)` stays bitwise resumable. Colour operations
on one-channel images reduce to brightness and contrast.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

_GRAY = np.array([0.299, 0.587, 0.114], np.float32)
# RGB <-> YIQ: a hue shift is a rotation of the (I, Q) chroma plane.
_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32
)
_FROM_YIQ = np.linalg.inv(_TO_YIQ).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class ViewSpec:
    """How strong the views are (hashable: a static argument of the jitted step)."""

    min_scale: float = 0.2  # Smallest crop area, as a share of the image.
    max_scale: float = 1.0  # Largest (SwAV's small crops: 0.14).
    jitter: float = 0.4  # Brightness, contrast and saturation factors in [1 - j, 1 + j].
    hue: float = 0.1  # Hue rotated by up to this share of a full turn.
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2
    blur_prob: float = 0.0
    solarize_prob: float = 0.0
    flip: bool = True


def gray(x: jax.Array) -> jax.Array:
    """Luma `[..., 1]` of float images `[..., C]` (C is 1 or 3)."""
    return x @ _GRAY[:, None] if x.shape[-1] == 3 else x


def crop_boxes(
    key: jax.Array, b: int, height: int, width: int, min_scale: float, max_scale: float = 1.0
):
    """Per-image `(top, left, h, w)`, each `[b]` float: an area share in `[min_scale,
    max_scale]` and an aspect ratio in `[3/4, 4/3]` (log-uniform), clipped to the image, placed
    uniformly."""
    k_area, k_ratio, k_top, k_left = jax.random.split(key, 4)
    share = jax.random.uniform(k_area, (b,), minval=min_scale, maxval=max_scale)
    area = share * height * width
    ratio = jnp.exp(
        jax.random.uniform(k_ratio, (b,), minval=math.log(3 / 4), maxval=math.log(4 / 3))
    )
    h = jnp.clip(jnp.sqrt(area / ratio), 1.0, height)
    w = jnp.clip(jnp.sqrt(area * ratio), 1.0, width)
    top = jax.random.uniform(k_top, (b,)) * (height - h)
    left = jax.random.uniform(k_left, (b,)) * (width - w)
    return top, left, h, w


def resized_crops(images: jax.Array, boxes, size: int) -> jax.Array:
    """Each float image's box `(top, left, h, w)` resampled (bilinear, antialiased) to
    `size x size`."""

    def one(image, top, left, h, w):
        scale = jnp.stack([size / h, size / w])
        translation = -jnp.stack([top, left]) * scale
        shape = (size, size, image.shape[-1])
        return jax.image.scale_and_translate(
            image, shape, (0, 1), scale, translation, method="linear", antialias=True
        )

    return jax.vmap(one)(images, *boxes)


def _per_image(key: jax.Array, b: int, low: float, high: float) -> jax.Array:
    return jax.random.uniform(key, (b, 1, 1, 1), minval=low, maxval=high)


def colour_jitter(key: jax.Array, x: jax.Array, strength: float, hue: float) -> jax.Array:
    """Brightness, contrast, saturation (factors in `[1 - strength, 1 + strength]`) and hue
    (rotated by up to `hue` of a turn), in that order, each clipped to [0, 1]."""
    b = x.shape[0]
    k_b, k_c, k_s, k_h = jax.random.split(key, 4)
    low, high = max(0.0, 1 - strength), 1 + strength
    x = jnp.clip(x * _per_image(k_b, b, low, high), 0, 1)
    mean = jnp.mean(gray(x), axis=(1, 2, 3), keepdims=True)
    x = jnp.clip((x - mean) * _per_image(k_c, b, low, high) + mean, 0, 1)
    if x.shape[-1] != 3:
        return x
    g = gray(x)
    x = jnp.clip((x - g) * _per_image(k_s, b, low, high) + g, 0, 1)
    angle = 2 * jnp.pi * jax.random.uniform(k_h, (b,), minval=-hue, maxval=hue)
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    one, zero = jnp.ones_like(cos), jnp.zeros_like(cos)
    rotate = jnp.stack(
        [
            jnp.stack([one, zero, zero], -1),
            jnp.stack([zero, cos, -sin], -1),
            jnp.stack([zero, sin, cos], -1),
        ],
        -2,
    )  # [b, 3, 3] on (Y, I, Q)
    mix = jnp.einsum("ij,bjk,kl->bil", _FROM_YIQ, rotate, _TO_YIQ)
    return jnp.clip(jnp.einsum("bhwc,bdc->bhwd", x, mix), 0, 1)


def gaussian_blur(key: jax.Array, x: jax.Array) -> jax.Array:
    """Separable Gaussian blur, sigma uniform per image in SimCLR's [0.1, 2.0] pixels at
    224 px scaled to the side, over a kernel about a tenth of the side."""
    b, side = x.shape[0], x.shape[1]
    radius = max(1, side // 20)
    sigma = jax.random.uniform(key, (b, 1), minval=0.1, maxval=2.0) * side / 224
    taps = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    weights = jnp.exp(-0.5 * (taps / sigma) ** 2)
    weights = weights / jnp.sum(weights, axis=1, keepdims=True)  # [b, 2r + 1]
    pad = ((0, 0), (radius, radius), (radius, radius), (0, 0))
    x = jnp.pad(x, pad, mode="reflect")
    rows = sum(weights[:, i, None, None, None] * x[:, i : i + side] for i in range(2 * radius + 1))
    return sum(
        weights[:, i, None, None, None] * rows[:, :, i : i + side] for i in range(2 * radius + 1)
    )


def _maybe(key: jax.Array, prob: float, x: jax.Array, changed: jax.Array) -> jax.Array:
    """`changed` for each image with probability `prob`, else `x`."""
    pick = jax.random.bernoulli(key, prob, (x.shape[0], 1, 1, 1))
    return jnp.where(pick, changed, x)


def strong_view(key: jax.Array, images: jax.Array, size: int, spec: ViewSpec) -> jax.Array:
    """One random view of each uint8 image `[b, H, W, C]`: uint8 `[b, size, size, C]`."""
    b, height, width, _ = images.shape
    keys = jax.random.split(key, 8)
    x = images.astype(jnp.float32) / 255.0
    boxes = crop_boxes(keys[0], b, height, width, spec.min_scale, spec.max_scale)
    x = resized_crops(x, boxes, size)
    if spec.flip:
        x = _maybe(keys[1], 0.5, x, x[:, :, ::-1])
    if spec.jitter_prob > 0:
        jittered = colour_jitter(keys[2], x, spec.jitter, spec.hue)
        x = _maybe(keys[3], spec.jitter_prob, x, jittered)
    if spec.grayscale_prob > 0 and x.shape[-1] == 3:
        x = _maybe(keys[4], spec.grayscale_prob, x, jnp.broadcast_to(gray(x), x.shape))
    if spec.blur_prob > 0:
        x = _maybe(keys[5], spec.blur_prob, x, gaussian_blur(keys[6], x))
    if spec.solarize_prob > 0:
        x = _maybe(keys[7], spec.solarize_prob, x, jnp.where(x < 0.5, x, 1 - x))
    return jnp.round(jnp.clip(x, 0, 1) * 255).astype(jnp.uint8)

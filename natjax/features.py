"""Frozen-encoder features: the representation the probes and `load_encoder` use."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from natjax import preprocess
from natjax.models import NATModel


def encode(model: NATModel, variables: dict, images: jax.Array, crop_size: int) -> jax.Array:
    """uint8 `[b, H, W, C]` to float32 representations `[b, D]` (eval mode, centre view)."""
    if crop_size and crop_size != images.shape[1]:
        images = preprocess.center_crop(images, crop_size)
    h, _ = model.apply(variables, images, train=False)
    return h.astype(jnp.float32)


def make_encode_fn(model: NATModel, crop_size: int):
    """`encode` jitted once for `model`: `fn(variables, images) -> [b, D]`."""
    return jax.jit(functools.partial(encode, model, crop_size=crop_size))


def extract(encode_fn, variables: dict, images, batch_size: int) -> np.ndarray:
    """Representations of all `images` (array-like `[n, H, W, C]`) as a host array `[n, D]`,
    through `encode_fn` from `make_encode_fn` (one compilation however often it is called)."""
    n = len(images)
    chunks = []
    for start in range(0, n, batch_size):
        chunk = np.asarray(images[start : start + batch_size])
        pad = batch_size - len(chunk)  # Pad the last chunk: one compiled shape.
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        chunks.append(np.asarray(encode_fn(variables, chunk))[: batch_size - pad])
    return np.concatenate(chunks)

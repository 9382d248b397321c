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


def pool_to(x: jax.Array, max_dims: int) -> jax.Array:
    """A feature map `[b, H, W, C]` area-resized to the largest `g x g` grid with
    `g * g * C <= max_dims` (at least 1 x 1), flattened: comparable sizes for every layer."""
    b, h, _, c = x.shape
    g = max(1, min(h, int((max_dims / c) ** 0.5)))
    if g != h:
        x = jax.image.resize(x, (b, g, g, c), method="linear", antialias=True)
    return x.reshape(b, -1)


def encode_layers(model: NATModel, variables, images, crop_size: int, max_dims: int) -> dict:
    """Every convolutional stage the encoder records (pooled by `pool_to`) and the NAT output
    (the projection), each `[b, D]` float32, in the network's order."""
    if crop_size and crop_size != images.shape[1]:
        images = preprocess.center_crop(images, crop_size)
    (_, proj), state = model.apply(variables, images, train=False, mutable=["intermediates"])
    maps = state["intermediates"]["encoder"]
    layers = {name: pool_to(value[0], max_dims) for name, value in maps.items()}
    layers["output"] = proj
    return {name: x.astype(jnp.float32) for name, x in layers.items()}


def extract_layers(model, variables, images, crop_size: int, batch_size: int, max_dims: int):
    """`encode_layers` over all `images` in batches: `{layer: host array [n, D]}`."""
    fn = jax.jit(functools.partial(encode_layers, model, crop_size=crop_size, max_dims=max_dims))
    names = None
    chunks: dict[str, list] = {}
    for start in range(0, len(images), batch_size):
        out = fn(variables, np.asarray(images[start : start + batch_size]))
        names = names or list(out)
        for name in names:
            chunks.setdefault(name, []).append(np.asarray(out[name]))
    return {name: np.concatenate(chunks[name]) for name in names}

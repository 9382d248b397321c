"""A frozen model's outputs in eval mode on the centre view: the representation (what the
probes and `load_encoder` use), the head's outputs (DeepCluster's refresh) and every stage
(the layer-wise probes), and `extract`, their host-side loop over many images."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from natjax.models.nat_model import NATModel
from natjax.views import center_crop

OUTPUTS = ("representation", "head")  # What `encode` gives: the encoder's, or the head's.


def encode(
    model: NATModel,
    variables: dict,
    images: jax.Array,
    crop_size: int,
    output: str = "representation",
) -> jax.Array:
    """uint8 `[b, H, W, C]` to float32 `[b, D]` (eval mode, centre view): the encoder's
    representation, or (`output="head"`) the head's outputs `[b, d]`."""
    if crop_size and crop_size != images.shape[1]:
        images = center_crop(images, crop_size)
    h, out = model.apply(variables, images, train=False)
    return (h if output == "representation" else out).astype(jnp.float32)


@functools.cache
def make_encode_fn(model: NATModel, crop_size: int, output: str = "representation"):
    """`encode` jitted for `model`: `fn(variables, images) -> [b, D]`. Cached, so the monitor,
    the evaluation, its baselines and the figures of a run share one compiled encoder."""
    return jax.jit(functools.partial(encode, model, crop_size=crop_size, output=output))


def extract(encode_fn, variables: dict, images, batch_size: int):
    """`encode_fn(variables, batch)` over all `images` (array-like `[n, H, W, C]`) as host
    arrays `[n, ...]` (an array, or a pytree of them as `encode_fn` returns; `n` may be 0).
    Each batch is padded to `batch_size`, so one compilation serves every call."""
    n = len(images)
    if n == 0:  # No call to make: the outputs' shapes, with no rows.
        chunk = jax.ShapeDtypeStruct((batch_size, *np.shape(images)[1:]), np.dtype(images.dtype))
        out = jax.eval_shape(encode_fn, variables, chunk)
        return jax.tree.map(lambda x: np.zeros((0, *x.shape[1:]), x.dtype), out)
    chunks = []
    for start in range(0, n, batch_size):
        chunk = np.asarray(images[start : start + batch_size])
        pad = batch_size - len(chunk)  # Pad the last chunk: one compiled shape.
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        out = encode_fn(variables, chunk)
        chunks.append(jax.tree.map(lambda x, keep=batch_size - pad: np.asarray(x)[:keep], out))
    return jax.tree.map(lambda *parts: np.concatenate(parts), *chunks)


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
        images = center_crop(images, crop_size)
    (_, proj), state = model.apply(variables, images, train=False, mutable=["intermediates"])
    maps = state["intermediates"]["encoder"]
    layers = {name: pool_to(value[0], max_dims) for name, value in maps.items()}
    layers["output"] = proj
    return {name: x.astype(jnp.float32) for name, x in layers.items()}


@functools.cache
def make_layers_fn(model: NATModel, crop_size: int, max_dims: int):
    """`encode_layers` jitted for `model`: `fn(variables, images) -> {layer: [b, D]}`."""
    return jax.jit(functools.partial(encode_layers, model, crop_size=crop_size, max_dims=max_dims))

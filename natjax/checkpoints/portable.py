"""What makes an export readable without natjax: a description of the encoder's input, output
and arrays for `export.json`, and the encoder's forward pass, preprocessing included,
serialised by `jax.export` (StableHLO) for `jax.export.deserialize(...).call(images)`."""

import functools
import hashlib

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from natjax.models import create_model, describe_representation, features, filters

FUNCTION_FILE = "encoder.jax_export"
# Lowered for each, whatever machine exports: the encoder is convolutions and batch norm only.
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")
ENCODER = "encoder"  # The variables' subtree the encoder is; the rest is the training head.


def describe(config: ConfigDict, image_shape: tuple, crop: int, dim: int, names) -> dict:
    """`export.json`'s account of the encoder: its input (dtype, shape, scaling, filter), its
    output, and which arrays (by checksum name, e.g. `params.encoder.Conv_0.kernel`) are the
    encoder and which the head that training put on top of it."""
    arrays = {ENCODER: [], "head": []}
    for name in sorted(names):
        arrays[ENCODER if name.split(".")[1] == ENCODER else "head"].append(name)
    center = crop != image_shape[0]
    return {
        "input": {
            "dtype": "uint8",
            "shape": [None, *image_shape],
            "layout": "NHWC",
            "center_crop": [crop, crop] if center else None,
            "scaling": "float32(x) / 255",
            "filter": filters.describe(config.input.filter),
        },
        "output": {
            "dtype": "float32",
            "shape": [None, dim],
            "what": describe_representation(config.model),
            "mode": "inference: batch norm uses its running statistics",
        },
        "arrays": arrays,
    }


def forward(config: ConfigDict, image_shape: tuple, crop: int, variables) -> jax.export.Exported:
    """`encode(images)`: uint8 `[b, *image_shape]` (any b) to the features `load_encoder`
    gives, with the encoder's arrays inside, exported by `jax.export` for PLATFORMS."""
    fn = functools.partial(features.encode, create_model(config), crop_size=crop)
    variables = jax.device_get(variables)
    batch = jax.export.symbolic_shape("b")[0]
    images = jax.ShapeDtypeStruct((batch, *image_shape), jnp.uint8)
    return jax.export.export(jax.jit(lambda x: fn(variables, x)), platforms=PLATFORMS)(images)


def function_entry(blob: bytes) -> dict:
    """`export.json`'s entry for the serialised forward pass: its file, digest and use."""
    return {
        "file": FUNCTION_FILE,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "platforms": list(PLATFORMS),
        "call": f"jax.export.deserialize(open('{FUNCTION_FILE}', 'rb').read()).call(images)",
    }


def check_function(blob: bytes, entry: dict) -> str | None:
    """None if `blob` is the function `entry` describes, else what is wrong (a phrase)."""
    if hashlib.sha256(blob).hexdigest() != entry.get("sha256"):
        return f"{FUNCTION_FILE} does not match the sha256 saved with it"
    return None

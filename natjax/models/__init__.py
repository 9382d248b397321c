"""Encoders by name, and the NAT model built from a config."""

import jax.numpy as jnp
from ml_collections import ConfigDict

from natjax.models.alexnet import AlexNetBN
from natjax.models.nat_model import NATModel
from natjax.models.resnet import ResNet18, ResNet50
from natjax.models.small_convnet import POOLS as POOLS
from natjax.models.small_convnet import SmallConvNet

ENCODERS = ("small_convnet", "resnet18", "resnet50", "alexnet_bn")


DTYPES = ("float32", "bfloat16")  # `model.dtype`: the compute dtype.


def create_encoder(config: ConfigDict):
    """The encoder named by `config.encoder` (one of ENCODERS), computing in `config.dtype`."""
    dtype = jnp.dtype(config.dtype)
    if config.encoder == "small_convnet":
        return SmallConvNet(tuple(config.widths), pool=config.pool, dtype=dtype)
    if config.encoder == "resnet18":
        return ResNet18(cifar_stem=config.cifar_stem, dtype=dtype)
    if config.encoder == "resnet50":
        return ResNet50(cifar_stem=config.cifar_stem, dtype=dtype)
    if config.encoder == "alexnet_bn":
        return AlexNetBN(dtype=dtype)
    raise ValueError(f"Unknown encoder {config.encoder!r}; use one of {ENCODERS}.")


def describe_representation(config: ConfigDict) -> str:
    """What the encoder named by `config` (a `model` config) outputs, in words."""
    flat = "the last stage's feature map [h, w, c] flattened in (h, w, c) order"
    if config.encoder == "small_convnet":
        return flat if config.pool == "flatten" else "the last stage's global average [c]"
    if config.encoder in ("resnet18", "resnet50"):
        return "the last stage's global average [c]"
    return flat.replace("the last stage's", "pool5's")  # alexnet_bn


def create_model(config: ConfigDict) -> NATModel:
    """The NAT model of a full run config (reads `config.model` and `config.input.filter`)."""
    return NATModel(
        encoder=create_encoder(config.model),
        target_dim=config.model.target_dim,
        head_widths=tuple(config.model.head_widths),
        input_filter=config.input.filter,
        dtype=jnp.dtype(config.model.dtype),
    )

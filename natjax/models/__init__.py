"""Encoders by name, and the NAT model built from a config."""

from ml_collections import ConfigDict

from natjax.models.alexnet import AlexNetBN
from natjax.models.nat_model import NATModel
from natjax.models.resnet import ResNet18
from natjax.models.small_convnet import SmallConvNet

ENCODERS = ("small_convnet", "resnet18", "alexnet_bn")


def create_encoder(config: ConfigDict):
    """The encoder named by `config.encoder` (one of ENCODERS)."""
    if config.encoder == "small_convnet":
        return SmallConvNet(tuple(config.widths))
    if config.encoder == "resnet18":
        return ResNet18(cifar_stem=config.cifar_stem)
    if config.encoder == "alexnet_bn":
        return AlexNetBN()
    raise ValueError(f"Unknown encoder {config.encoder!r}; use one of {ENCODERS}.")


def create_model(config: ConfigDict) -> NATModel:
    """The NAT model of a full run config (reads `config.model` and `config.input.sobel`)."""
    return NATModel(
        encoder=create_encoder(config.model),
        target_dim=config.model.target_dim,
        head_widths=tuple(config.model.head_widths),
        sobel=config.input.sobel,
    )

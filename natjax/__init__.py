"""natjax: Noise As Targets (Bojanowski & Joulin, 2017) in JAX, accelerator-native."""

from natjax.encoder_io import export, load_encoder

__all__ = ["export", "load_encoder"]

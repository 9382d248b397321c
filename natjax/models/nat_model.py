"""The network NAT trains: fixed preprocessing, an encoder, and a projection head."""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from natjax.models import filters


class NATModel(nn.Module):
    """uint8 images `[b, H, W, C]` to (representation `[b, D]`, projection `[b, target_dim]`).

    The representation is what the linear probe and `load_encoder` use; the projection is what
    NAT normalises and pulls towards the targets.
    """

    encoder: nn.Module
    target_dim: int
    head_widths: Sequence[int] = ()
    input_filter: str = "sobel"  # One of filters.FILTERS.
    dtype: jnp.dtype = jnp.float32  # The encoder's and head's compute dtype (as the encoder's).

    @nn.compact
    def __call__(self, images: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        x = filters.to_float(images)
        x = filters.apply_filter(x, self.input_filter).astype(self.dtype)
        h = self.encoder(x, train)
        z = h
        for width in self.head_widths:
            z = nn.Dense(width, dtype=self.dtype)(z)
            z = nn.relu(nn.BatchNorm(use_running_average=not train, dtype=self.dtype)(z))
        # Outputs in float32: the probes, the loss and the assignment's scores stay float32.
        proj = nn.Dense(self.target_dim, dtype=self.dtype)(z)
        return h.astype(jnp.float32), proj.astype(jnp.float32)

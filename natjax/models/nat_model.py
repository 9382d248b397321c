"""The network NAT trains: fixed preprocessing, an encoder, and a projection head."""

from collections.abc import Sequence

import flax.linen as nn
import jax

from natjax import preprocess


class NATModel(nn.Module):
    """uint8 images `[b, H, W, C]` to (representation `[b, D]`, projection `[b, target_dim]`).

    The representation is what the linear probe and `load_encoder` use; the projection is what
    NAT normalises and pulls towards the targets.
    """

    encoder: nn.Module
    target_dim: int
    head_widths: Sequence[int] = ()
    sobel: bool = True

    @nn.compact
    def __call__(self, images: jax.Array, train: bool) -> tuple[jax.Array, jax.Array]:
        x = preprocess.to_float(images)
        x = preprocess.sobel(x) if self.sobel else 2.0 * x - 1.0
        h = self.encoder(x, train)
        z = h
        for width in self.head_widths:
            z = nn.relu(nn.BatchNorm(use_running_average=not train)(nn.Dense(width)(z)))
        return h, nn.Dense(self.target_dim)(z)

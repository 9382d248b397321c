"""A small VGG-style convnet for 28-32 px inputs: the CPU default."""

from collections.abc import Sequence

import flax.linen as nn
import jax


class SmallConvNet(nn.Module):
    """Stages of conv3x3-BN-ReLU, 2x2 max-pool between stages, global average pool at the end.

    The representation is the pooled output of the last stage: `[b, widths[-1]]`.
    """

    widths: Sequence[int] = (32, 64, 128)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        for i, width in enumerate(self.widths):
            if i:
                x = nn.max_pool(x, (2, 2), (2, 2))
            x = nn.Conv(width, (3, 3), use_bias=False)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
        return x.mean(axis=(1, 2))

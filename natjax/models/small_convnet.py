"""A small VGG-style convnet for 28-32 px inputs: the CPU default."""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

POOLS = ("flatten", "avg")  # `model.pool`: the representation of the small convnet.


class SmallConvNet(nn.Module):
    """Stages of conv3x3-BN-ReLU with a 2x2 max-pool between stages.

    The representation is the last stage's feature map, flattened (`[b, 7 * 7 * 128]` for the
    default 28 px input), or its global average (`pool="avg"`, `[b, 128]`). Flattened, the
    spatial layout does much of a linear probe's work, even for a random encoder.
    """

    widths: Sequence[int] = (32, 64, 128)
    pool: str = "flatten"  # POOLS: the last map flattened, or its global average ("avg").
    dtype: jnp.dtype = jnp.float32  # Compute dtype; parameters stay float32.

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        for i, width in enumerate(self.widths):
            if i:
                x = nn.max_pool(x, (2, 2), (2, 2))
            x = nn.Conv(width, (3, 3), use_bias=False, dtype=self.dtype)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, dtype=self.dtype)(x))
            self.sow("intermediates", f"conv{i + 1}", x)  # For the layer-wise probes.
        if self.pool == "avg":
            return jnp.mean(x, axis=(1, 2))
        return x.reshape(x.shape[0], -1)

"""AlexNet (Krizhevsky et al., 2012) with batch normalisation, as in the NAT paper."""

import flax.linen as nn
import jax
import jax.numpy as jnp

# (features, kernel, stride, padding, max-pool after)
_LAYERS = (
    (96, 11, 4, 2, True),
    (256, 5, 1, 2, True),
    (384, 3, 1, 1, False),
    (384, 3, 1, 1, False),
    (256, 3, 1, 1, True),
)


class AlexNetBN(nn.Module):
    """The five conv layers; the representation is the flattened pool5 output (`[b, 9216]` at
    224 px). The paper's fc6/fc7 are the NAT head (`model.head_widths = (4096, 4096)`)."""

    dtype: jnp.dtype = jnp.float32  # Compute dtype; parameters stay float32.

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        for i, (features, kernel, stride, pad, pool) in enumerate(_LAYERS):
            x = nn.Conv(
                features,
                (kernel, kernel),
                (stride, stride),
                [(pad, pad)] * 2,
                use_bias=False,
                dtype=self.dtype,
            )(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, dtype=self.dtype)(x))
            self.sow("intermediates", f"conv{i + 1}", x)  # For the layer-wise probes.
            if pool:
                x = nn.max_pool(x, (3, 3), (2, 2))
        return x.reshape(x.shape[0], -1)

"""ResNet-18 (He et al., 2016) with an optional CIFAR stem (3x3 conv, no max-pool)."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp


class BasicBlock(nn.Module):
    width: int
    stride: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        bn = functools.partial(nn.BatchNorm, use_running_average=not train, dtype=self.dtype)
        conv = functools.partial(nn.Conv, self.width, use_bias=False, dtype=self.dtype)
        s = (self.stride, self.stride)
        y = nn.relu(bn()(conv((3, 3), s)(x)))
        y = bn(scale_init=nn.initializers.zeros)(conv((3, 3))(y))
        if x.shape[-1] != self.width or self.stride != 1:
            x = bn()(conv((1, 1), s)(x))
        return nn.relu(x + y)


class ResNet18(nn.Module):
    """Representation: the global average pool of the last stage, `[b, 512]`."""

    cifar_stem: bool = False
    dtype: jnp.dtype = jnp.float32  # Compute dtype; parameters stay float32.

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        conv = functools.partial(nn.Conv, 64, use_bias=False, dtype=self.dtype)
        if self.cifar_stem:
            x = conv((3, 3))(x)
        else:
            x = conv((7, 7), (2, 2), padding=[(3, 3), (3, 3)])(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, dtype=self.dtype)(x))
        if not self.cifar_stem:
            x = nn.max_pool(x, (3, 3), (2, 2), padding=[(1, 1), (1, 1)])
        self.sow("intermediates", "stem", x)  # For the layer-wise probes.
        for stage, width in enumerate((64, 128, 256, 512)):
            for block in range(2):
                stride = 2 if stage and not block else 1
                x = BasicBlock(width, stride, self.dtype)(x, train)
            self.sow("intermediates", f"stage{stage + 1}", x)
        return x.mean(axis=(1, 2))

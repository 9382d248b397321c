"""ResNet-18 and ResNet-50 (He et al., 2016), with an optional CIFAR stem (3x3 conv, no
max-pool)."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp


def _layers(dtype: jnp.dtype, train: bool) -> tuple:
    """The blocks' batch norm and bias-free conv, computing in `dtype`."""
    bn = functools.partial(nn.BatchNorm, use_running_average=not train, dtype=dtype)
    return bn, functools.partial(nn.Conv, use_bias=False, dtype=dtype)


def _add_shortcut(x: jax.Array, y: jax.Array, stride: int, bn, conv) -> jax.Array:
    """relu(x + y), with `x` projected by a strided 1x1 conv where its shape differs from y's.
    Called from a block's `__call__`, so the projection's layers belong to that block."""
    width = y.shape[-1]
    if x.shape[-1] != width or stride != 1:
        x = bn()(conv(width, (1, 1), (stride, stride))(x))
    return nn.relu(x + y)


class BasicBlock(nn.Module):
    width: int
    stride: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        bn, conv = _layers(self.dtype, train)
        s = (self.stride, self.stride)
        y = nn.relu(bn()(conv(self.width, (3, 3), s)(x)))
        y = bn(scale_init=nn.initializers.zeros)(conv(self.width, (3, 3))(y))
        return _add_shortcut(x, y, self.stride, bn, conv)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand to 4 x `width` (ResNet v1.5: the stride is on the
    3x3 conv, as in torchvision)."""

    width: int
    stride: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        bn, conv = _layers(self.dtype, train)
        s = (self.stride, self.stride)
        y = nn.relu(bn()(conv(self.width, (1, 1))(x)))
        y = nn.relu(bn()(conv(self.width, (3, 3), s)(y)))
        y = bn(scale_init=nn.initializers.zeros)(conv(4 * self.width, (1, 1))(y))
        return _add_shortcut(x, y, self.stride, bn, conv)


class ResNet(nn.Module):
    """Representation: the global average pool of the last stage, `[b, 512]` (ResNet-18) or
    `[b, 2048]` (ResNet-50)."""

    stage_sizes: tuple[int, ...]
    block: type[nn.Module]
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
        widths = (64, 128, 256, 512)
        for stage, (blocks, width) in enumerate(zip(self.stage_sizes, widths, strict=True)):
            for block in range(blocks):
                stride = 2 if stage and not block else 1
                x = self.block(width, stride, self.dtype)(x, train)
            self.sow("intermediates", f"stage{stage + 1}", x)
        return x.mean(axis=(1, 2))


ResNet18 = functools.partial(ResNet, (2, 2, 2, 2), BasicBlock)
ResNet50 = functools.partial(ResNet, (3, 4, 6, 3), Bottleneck)

"""ResNet-18 (He et al., 2016) with an optional CIFAR stem (3x3 conv, no max-pool)."""

import flax.linen as nn
import jax


class BasicBlock(nn.Module):
    width: int
    stride: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        bn = lambda **kw: nn.BatchNorm(use_running_average=not train, **kw)  # noqa: E731
        s = (self.stride, self.stride)
        y = nn.relu(bn()(nn.Conv(self.width, (3, 3), s, use_bias=False)(x)))
        y = bn(scale_init=nn.initializers.zeros)(nn.Conv(self.width, (3, 3), use_bias=False)(y))
        if x.shape[-1] != self.width or self.stride != 1:
            x = bn()(nn.Conv(self.width, (1, 1), s, use_bias=False)(x))
        return nn.relu(x + y)


class ResNet18(nn.Module):
    """Representation: the global average pool of the last stage, `[b, 512]`."""

    cifar_stem: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        if self.cifar_stem:
            x = nn.Conv(64, (3, 3), use_bias=False)(x)
        else:
            x = nn.Conv(64, (7, 7), (2, 2), padding=[(3, 3), (3, 3)], use_bias=False)(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
        if not self.cifar_stem:
            x = nn.max_pool(x, (3, 3), (2, 2), padding=[(1, 1), (1, 1)])
        self.sow("intermediates", "stem", x)  # For the layer-wise probes.
        for stage, width in enumerate((64, 128, 256, 512)):
            for block in range(2):
                stride = 2 if stage and not block else 1
                x = BasicBlock(width, stride)(x, train)
            self.sow("intermediates", f"stage{stage + 1}", x)
        return x.mean(axis=(1, 2))

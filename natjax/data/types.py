"""The in-memory dataset every source produces."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """One split; example `i` has the stable id `i`, which is how it finds its target."""

    images: np.ndarray  # [n, H, W, C] uint8
    labels: np.ndarray  # [n] int32, used only for evaluation.

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> "Split":
        """The first `n` examples (all of them when `n` is 0)."""
        return self if n <= 0 else Split(self.images[:n], self.labels[:n])

    def sample(self, n: int, seed: int) -> "Split":
        """`n` examples drawn without replacement by `seed`, in id order (all when `n` is 0 or
        at least the split's size). Unlike `head`, fair on sources stored class by class, such
        as image folders."""
        if n <= 0 or n >= len(self):
            return self
        rows = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return Split(np.asarray(self.images[rows]), np.asarray(self.labels[rows]))


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    num_classes: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

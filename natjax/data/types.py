"""The in-memory dataset every source produces."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """One split; example `i` has the stable id `i`, which is how it finds its target."""

    images: np.ndarray  # [n, H, W, C] uint8
    # [n] int32, or multi-hot [n, classes] where an image carries several labels (VOC); used
    # only for evaluation and by the supervised objective.
    labels: np.ndarray

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
        return self.take(rows)

    def labelled_fraction(self, fraction: float, seed: int) -> "Split":
        """`fraction` of each class's examples (rounded, at least one), drawn without
        replacement by `seed`, in id order: a class-balanced share of the labels, as the
        semi-supervised protocols fine-tune on (of multi-label images: `fraction` of them,
        drawn alike). All of them at 1."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction={fraction} is not in (0, 1].")
        if fraction == 1:
            return self
        if self.labels.ndim == 2:  # Several labels an image: a uniform share of the images.
            return self.sample(max(1, round(fraction * len(self))), seed)
        rng = np.random.default_rng(seed)
        rows = []
        for label in np.unique(self.labels):
            members = np.flatnonzero(self.labels == label)
            keep = max(1, round(fraction * len(members)))
            rows.append(rng.permutation(members)[:keep])
        return self.take(np.sort(np.concatenate(rows)))

    def take(self, rows: np.ndarray) -> "Split":
        """The examples `rows`, in that order."""
        return Split(np.asarray(self.images[rows]), np.asarray(self.labels[rows]))


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    num_classes: int

    @property
    def multilabel(self) -> bool:
        """Whether its images carry several labels each (multi-hot labels)."""
        return self.train.labels.ndim == 2

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

"""The order in which a run sees its examples: a pure function of (seed, epoch).

A resumed run recomputes the same order from its step, so the input position needs no state.
"""

import numpy as np


def num_steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Full batches per epoch; the remainder of each shuffled epoch is dropped."""
    return num_examples // batch_size


def epoch_ids(num_examples: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    """The ids of each batch of `epoch`: int32 `[steps_per_epoch, batch_size]`."""
    order = np.random.default_rng([seed, epoch]).permutation(num_examples).astype(np.int32)
    steps = num_steps_per_epoch(num_examples, batch_size)
    return order[: steps * batch_size].reshape(steps, batch_size)

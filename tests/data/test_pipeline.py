"""The epoch order (`natjax.data.pipeline`): a pure function of (seed, epoch)."""

import numpy as np

from natjax import data


def test_epoch_order_is_a_deterministic_permutation():
    ids = data.epoch_ids(103, 10, seed=7, epoch=2)
    assert ids.shape == (10, 10) and ids.dtype == np.int32
    assert len(np.unique(ids)) == 100 and ids.max() < 103
    np.testing.assert_array_equal(ids, data.epoch_ids(103, 10, seed=7, epoch=2))
    assert not np.array_equal(ids, data.epoch_ids(103, 10, seed=7, epoch=3))


def test_an_epoch_is_its_full_batches():
    assert data.num_steps_per_epoch(103, 10) == 10 and data.num_steps_per_epoch(9, 10) == 0

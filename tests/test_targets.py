import jax.numpy as jnp
import numpy as np
import pytest

from natjax.targets import targets


def test_targets_are_unit_vectors_of_the_requested_dim():
    c = targets(0, jnp.arange(100), 16)
    assert c.shape == (100, 16) and c.dtype == jnp.float32
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, rtol=1e-5)


def test_a_target_depends_only_on_seed_and_id():
    ids = jnp.array([5, 3, 9])
    np.testing.assert_array_equal(targets(1, ids, 8)[1], targets(1, jnp.array([3]), 8)[0])
    assert not np.allclose(targets(1, ids, 8), targets(2, ids, 8))


def test_targets_spread_uniformly_over_the_sphere():
    c = np.asarray(targets(0, jnp.arange(4000), 8))
    np.testing.assert_allclose(c.mean(0), 0.0, atol=0.05)  # Mean of a uniform law: 0.
    np.testing.assert_allclose(c.T @ c / len(c), np.eye(8) / 8, atol=0.02)  # Covariance I/d.


def test_discrete_targets_are_replicated_one_hot_vectors():
    ids = jnp.arange(12)
    c = np.asarray(targets(0, ids, 4, kind="discrete"))
    np.testing.assert_array_equal(c, np.eye(4)[np.arange(12) % 4])
    with pytest.raises(ValueError, match="use one of continuous, discrete"):
        targets(0, ids, 4, kind="binary")

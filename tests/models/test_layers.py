import jax
import jax.numpy as jnp
import numpy as np

from natjax.loss import l2_normalize, square_loss


def test_square_loss_of_unit_vectors_is_two_minus_twice_mean_cosine():
    z = l2_normalize(jax.random.normal(jax.random.key(0), (32, 8)))
    c = l2_normalize(jax.random.normal(jax.random.key(1), (32, 8)))
    expected = 2.0 - 2.0 * jnp.mean(jnp.sum(z * c, axis=1))
    np.testing.assert_allclose(square_loss(z, c), expected, rtol=1e-5)
    assert float(square_loss(c, c)) == 0.0


def test_l2_normalize_keeps_zero_rows_finite():
    out = l2_normalize(jnp.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])

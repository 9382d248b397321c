"""The auction's starting prices (`natjax.assignment.prices`): Sinkhorn's column potentials as
int32 prices inside the benefits' span."""

import jax.numpy as jnp
import numpy as np

from natjax.assignment.prices import sinkhorn_prices


def test_prices_are_int32_in_the_benefits_span_from_zero():
    benefits = np.random.default_rng(0).integers(0, 1000, (32, 32)).astype(np.int32)
    prices = np.asarray(sinkhorn_prices(jnp.asarray(benefits), 10, 0.01))
    assert prices.dtype == np.int32 and prices.shape == (32,)
    assert prices.min() == 0 and prices.max() <= benefits.max()


def test_a_column_every_row_prefers_gets_the_highest_price():
    """Column 3 is worth more to every row than any other: its potential is the largest."""
    rng = np.random.default_rng(1)
    benefits = rng.integers(0, 100, (16, 16))
    benefits[:, 3] += 500
    prices = np.asarray(sinkhorn_prices(jnp.asarray(benefits, jnp.int32), 10, 0.01))
    assert prices.argmax() == 3 and prices[3] > np.delete(prices, 3).max()


def test_constant_benefits_give_equal_prices():
    prices = np.asarray(sinkhorn_prices(jnp.full((8, 8), 7, jnp.int32), 10, 0.01))
    np.testing.assert_array_equal(prices, 0)

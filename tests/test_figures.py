import numpy as np
from scipy.signal import correlate2d

from natjax import figures


def test_compose_is_one_filter_for_two_correlations():
    rng = np.random.default_rng(0)
    x, first, kernel = rng.normal(size=(12, 12)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    twice = correlate2d(correlate2d(x, first, "valid"), kernel, "valid")
    once = correlate2d(x, figures.compose(kernel, first), "valid")
    np.testing.assert_allclose(once, twice, rtol=1e-5, atol=1e-5)

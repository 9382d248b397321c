import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import correlate2d

from natjax import figures, preprocess


def test_compose_is_one_filter_for_two_correlations():
    rng = np.random.default_rng(0)
    x, first, kernel = rng.normal(size=(12, 12)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    twice = correlate2d(correlate2d(x, first, "valid"), kernel, "valid")
    once = correlate2d(x, figures.compose(kernel, first), "valid")
    np.testing.assert_allclose(once, twice, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["sobel", "highpass"])
def test_input_filters_are_the_ones_the_model_applies(name):
    """What `first_layer_filters` composes with is what `preprocess.apply_filter` does."""
    gray = np.random.default_rng(0).uniform(size=(1, 12, 12, 1)).astype(np.float32)
    out = np.asarray(preprocess.apply_filter(jnp.asarray(gray), name))
    for c, fixed in enumerate(figures.input_filters(name)):
        r = fixed.shape[0] // 2
        inner = out[0, r:-r, r:-r, c]
        np.testing.assert_allclose(inner, correlate2d(gray[0, :, :, 0], fixed, "valid"), atol=1e-5)


def test_feature_map_is_a_png_of_the_expected_size(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    feats = rng.normal(size=(60, 8)) + 5 * np.eye(8)[labels]
    path = figures.feature_map(str(tmp_path), feats, labels)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (480, 400)

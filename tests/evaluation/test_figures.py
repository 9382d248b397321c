"""A run's pictures (`natjax.evaluation.figures`): composed first-layer filters, the fixed
input filters the model applies, and each figure as a PNG of its size."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from scipy.signal import correlate2d

from natjax.evaluation import figures
from natjax.evaluation.metrics import MetricsWriter
from natjax.models import NATModel, SmallConvNet, features, filters


def test_compose_is_one_filter_for_two_correlations():
    rng = np.random.default_rng(0)
    x, first, kernel = rng.normal(size=(12, 12)), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    twice = correlate2d(correlate2d(x, first, "valid"), kernel, "valid")
    once = correlate2d(x, figures.compose(kernel, first), "valid")
    np.testing.assert_allclose(once, twice, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["sobel", "highpass"])
def test_input_filters_are_the_ones_the_model_applies(name):
    """What `first_layer_filters` composes with is what `filters.apply_filter` does."""
    gray = np.random.default_rng(0).uniform(size=(1, 12, 12, 1)).astype(np.float32)
    out = np.asarray(filters.apply_filter(jnp.asarray(gray), name))
    for c, fixed in enumerate(figures.input_filters(name)):
        r = fixed.shape[0] // 2
        inner = out[0, r:-r, r:-r, c]
        np.testing.assert_allclose(inner, correlate2d(gray[0, :, :, 0], fixed, "valid"), atol=1e-5)


def test_feature_map_is_a_png_of_the_expected_size(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    feats = rng.normal(size=(60, 8)) + 5 * np.eye(8)[labels]
    path = figures.feature_map(str(tmp_path), feats, labels)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (480, 400)


def test_raw_input_has_the_identity_filter():
    assert [f.tolist() for f in figures.input_filters("raw")] == [[[1.0]]]


def test_curves_need_metrics_and_show_each_series(tmp_path):
    assert figures.training_curves(str(tmp_path)) is None
    writer = MetricsWriter(str(tmp_path))
    writer.write(4, loss=1.0)
    writer.write(8, loss=0.5, knn_top1=0.3)
    writer.close()
    path = figures.training_curves(str(tmp_path))
    with Image.open(path) as image:
        assert path.endswith("figures/curves.png") and image.size == (640, 240)  # Two panels.


def test_neighbours_and_first_layer_filters_are_pngs_of_their_sizes(tmp_path):
    model = NATModel(SmallConvNet((4,)), target_dim=3)
    images = np.random.default_rng(0).integers(0, 255, (12, 8, 8, 1)).astype(np.uint8)
    variables = model.init(jax.random.key(0), images[:1], train=False)
    encode = features.make_encode_fn(model, 8)
    path = figures.nearest_neighbours(str(tmp_path), encode, variables, images, images[:3], 4)
    with Image.open(path) as image:
        assert image.size == (6 * 80, 3 * 80)  # A query and its 5 neighbours per row.
    path = figures.first_layer_filters(str(tmp_path), variables["params"], "sobel")
    with Image.open(path) as image:
        assert image.size == (8 * 80, 1 * 80)  # 4 filters: one row of 8.

"""A frozen model's outputs (`natjax.models.features`): the representation or the head's on the
centre view, host-side extraction in padded batches, and every stage pooled to a budget."""

import jax
import jax.numpy as jnp
import numpy as np

from natjax.models import NATModel, SmallConvNet, features
from natjax.views import center_crop

MODEL = NATModel(SmallConvNet((4, 8)), target_dim=3)


def _images(n=10, side=10):
    return np.random.default_rng(0).integers(0, 255, (n, side, side, 1)).astype(np.uint8)


def _variables(side=8):
    images = np.zeros((1, side, side, 1), np.uint8)
    return jax.jit(lambda k: MODEL.init(k, images, train=False))(jax.random.key(0))


def test_encode_is_the_eval_mode_output_on_the_centre_crop():
    images, variables = _images(), _variables()
    apply = jax.jit(lambda v, x: MODEL.apply(v, center_crop(x, 8), train=False))
    h, z = apply(variables, jnp.asarray(images))
    close = {"rtol": 1e-5, "atol": 1e-6}  # One program against op by op.
    np.testing.assert_allclose(features.encode(MODEL, variables, images, 8), h, **close)
    np.testing.assert_allclose(features.encode(MODEL, variables, images, 8, "head"), z, **close)
    assert features.encode(MODEL, variables, images, 8).shape == (10, 4 * 4 * 8)


def test_extract_pads_the_last_batch_and_gives_what_one_call_gives():
    images, variables = _images(), _variables()
    fn = features.make_encode_fn(MODEL, 8)
    assert features.make_encode_fn(MODEL, 8) is fn  # One compiled encoder per model and crop.
    got = features.extract(fn, variables, images, batch_size=4)  # Batches of 4, 4, 2 (+2).
    np.testing.assert_allclose(got, np.asarray(fn(variables, images)), rtol=1e-6, atol=1e-6)
    assert fn._cache_size() == 2  # Batches of 4, and the call on all 10.


def test_pool_to_keeps_the_largest_grid_within_the_budget():
    x = jnp.ones((2, 8, 8, 4))
    assert features.pool_to(x, 1000).shape == (2, 8 * 8 * 4)  # Within the budget already.
    assert features.pool_to(x, 100).shape == (2, 5 * 5 * 4)  # 5 x 5 x 4 = 100.
    assert features.pool_to(x, 1).shape == (2, 4)  # At least 1 x 1.
    np.testing.assert_allclose(features.pool_to(x, 16), 1.0, rtol=1e-6)  # An area mean.


def test_every_stage_and_the_output_in_the_networks_order():
    images, variables = _images(), _variables()
    layers = features.encode_layers(MODEL, variables, images, 8, max_dims=64)
    assert list(layers) == ["conv1", "conv2", "output"]
    assert layers["conv1"].shape == (10, 4 * 4 * 4) and layers["conv2"].shape == (10, 2 * 2 * 8)
    head = features.encode(MODEL, variables, images, 8, "head")
    np.testing.assert_allclose(layers["output"], head, rtol=1e-5, atol=1e-6)
    fn = features.make_layers_fn(MODEL, 8, 64)
    assert jax.tree.map(jnp.shape, fn(variables, images)) == jax.tree.map(jnp.shape, layers)

"""BYOL (`natjax.objectives.byol`): the normalised square distance both ways, the target as a
moving average of the online network on its momentum schedule."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax.objectives import byol, simsiam
from tests.helpers import assert_refused, first_step


def test_byol_loss_is_the_normalised_square_distance_both_ways():
    rng = np.random.default_rng(7)
    out, target = rng.normal(size=(2, 6, 4)).astype(np.float32)
    predictor = simsiam.init_predictor(jax.random.key(0), 4, 16)
    w1, b1, w2, b2 = (np.asarray(layer[k]) for layer in predictor for k in ("w", "b"))

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    p1, p2 = (np.maximum(z @ w1 + b1, 0) @ w2 + b2 for z in (out[:3], out[3:]))
    pairs = ((p1, target[3:]), (p2, target[:3]))
    expected = sum(np.mean(np.sum((unit(p) - unit(t)) ** 2, 1)) for p, t in pairs)
    np.testing.assert_allclose(float(byol.loss(out, target, predictor)), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "schedule, at_step, momentum",
    # The tiny run has 18 steps (96 images, batch 16, 3 epochs): at step 9 the cosine schedule
    # is half way from the base momentum to 1.
    [
        pytest.param("constant", 0, 0.9, marks=pytest.mark.slow),
        pytest.param("cosine", 0, 0.9, marks=pytest.mark.slow),
        ("cosine", 9, 0.95),
        pytest.param("constant", 9, 0.9, marks=pytest.mark.slow),
    ],
)
def test_byols_target_is_a_moving_average_of_the_online_network_without_gradient(
    tmp_path, schedule, at_step, momentum
):
    changes = {"byol.momentum": 0.9, "byol.momentum_schedule": schedule}
    _, state, after = first_step(tmp_path, "byol", at_step, **changes)
    leaves = jax.tree.leaves
    pairs = zip(leaves(state.extra["target"]), leaves(state.params), strict=True)
    assert all(np.array_equal(t, p) for t, p in pairs)
    before = state.extra["target"]
    m = momentum
    expected = jax.tree.map(lambda t, p: m * t + (1 - m) * np.asarray(p), before, after.params)
    for got, want in zip(leaves(after.extra["target"]), leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    pairs = zip(leaves(after.params), leaves(before), strict=True)
    assert not all(np.array_equal(a, b) for a, b in pairs)


def test_byols_cosine_momentum_rises_from_its_base_to_one():
    got = [float(byol.cosine_momentum(0.99, jnp.asarray(k), 100)) for k in (0, 50, 100, 120)]
    np.testing.assert_allclose(got, [0.99, 0.995, 1.0, 1.0], rtol=0, atol=1e-7)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("byol.momentum_schedule", "cos", "byol.momentum_schedule='cos' is invalid: it must be"),
        ("byol.momentum", 1.0, "byol.momentum=1.0 is invalid: it must be in [0, 1)"),
    ],
)
def test_a_bad_byol_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, byol.check)

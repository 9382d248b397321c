"""SimSiam (`natjax.objectives.simsiam`): the negative cosine both ways through the predictor,
which trains while the targets get no gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax.models.layers import mlp
from natjax.objectives import simsiam
from tests.helpers import assert_refused


def test_simsiam_loss_is_the_negative_cosine_both_ways_through_the_predictor():
    rng = np.random.default_rng(5)
    out = rng.normal(size=(6, 4)).astype(np.float32)
    predictor = simsiam.init_predictor(jax.random.key(0), 4, 3)
    w1, b1, w2, b2 = (np.asarray(layer[k]) for layer in predictor for k in ("w", "b"))

    def cos(a, b):
        return np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    z1, z2 = out[:3], out[3:]
    p1, p2 = (np.maximum(z @ w1 + b1, 0) @ w2 + b2 for z in (z1, z2))
    expected = -0.5 * cos(p1, z2).mean() - 0.5 * cos(p2, z1).mean()
    np.testing.assert_allclose(float(simsiam.loss(out, predictor)), expected, rtol=1e-5)


def test_simsiams_predictor_is_trained_and_its_targets_get_no_gradient():
    z = jnp.asarray(np.random.default_rng(6).normal(size=(4, 4)), jnp.float32)
    predictor = simsiam.init_predictor(jax.random.key(0), 4, 3)
    g_out, g_pred = jax.grad(simsiam.loss, argnums=(0, 1))(z, predictor)
    assert all(np.abs(leaf).sum() > 0 for leaf in jax.tree.leaves(g_pred))
    assert np.abs(np.asarray(g_out)).sum() > 0

    def one_way(o):  # View 1's prediction against view 2's projection, held fixed.
        return simsiam.negative_cosine(mlp(predictor, o[:2]), o[2:])

    assert np.abs(np.asarray(jax.grad(one_way)(z)[2:])).sum() == 0


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "simsiam.predictor_width",
            0,
            "simsiam.predictor_width=0 is invalid: it must be a positive integer",
        ),
    ],
)
def test_a_bad_simsiam_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, simsiam.check)

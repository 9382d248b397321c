"""SimCLR (`natjax.objectives.simclr`): NT-Xent against numpy, and its two strong views."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs.nat import get_config
from natjax.objectives import StepConfig, simclr
from natjax.views import ViewSpec
from tests.helpers import assert_refused


def numpy_nt_xent(out, temperature):
    """NT-Xent written out view by view."""
    z = out / np.linalg.norm(out, axis=1, keepdims=True)
    n = len(z)
    total = 0.0
    for i in range(n):
        twin = (i + n // 2) % n
        others = [np.exp(z[i] @ z[j] / temperature) for j in range(n) if j != i]
        total += -np.log(np.exp(z[i] @ z[twin] / temperature) / np.sum(others))
    return total / n


def test_nt_xent_is_the_papers_loss():
    out = np.random.default_rng(0).normal(size=(6, 3))
    for t in (0.1, 0.5):
        got = float(simclr.nt_xent(jnp.asarray(out, jnp.float32), t))
        np.testing.assert_allclose(got, numpy_nt_xent(out, t), rtol=1e-5)


def test_nt_xent_is_smallest_when_twins_agree_and_others_differ():
    basis = np.eye(4, dtype=np.float32)
    twins = np.concatenate([basis, basis])  # Each image's views agree; images are orthogonal.
    crossed = np.concatenate([basis, basis[::-1]])
    assert float(simclr.nt_xent(twins, 0.5)) < float(simclr.nt_xent(crossed, 0.5))


def test_simclr_views_are_two_different_strong_views_of_each_image():
    images = np.random.default_rng(3).integers(0, 255, (4, 12, 12, 3)).astype(np.uint8)
    cfg = StepConfig(1, crop_size=8, crop_padding=0, flip=True)
    objective = simclr.build(get_config("smoke"))
    assert objective.strong_views and objective.num_views == 2 and objective.projector
    views = jax.jit(objective.views, static_argnums=2)
    x, _ = views(jax.random.key(0), {"images": images}, cfg)
    assert x.shape == (8, 8, 8, 3) and x.dtype == jnp.uint8
    assert not np.array_equal(x[:4], x[4:])
    strong = dataclasses.replace(cfg, views=ViewSpec(min_scale=1.0, jitter_prob=0.0))
    y, _ = views(jax.random.key(0), {"images": images}, strong)
    assert not np.array_equal(x, y)  # `input.strong`'s settings are the ones used.


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("simclr.temperature", 0.0, "simclr.temperature=0.0 is invalid: it must be positive"),
    ],
)
def test_a_bad_simclr_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, simclr.check)

"""SwAV (`natjax.objectives.swav`): Sinkhorn's codes and the swapped prediction against numpy,
its queue, and multi-crop's small views."""

import dataclasses
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs.nat import get_config
from natjax.errors import UserError
from natjax.objectives import StepConfig, simclr, swav
from natjax.training.config_checks import check_config
from natjax.views import ViewSpec
from tests.helpers import assert_refused, first_step, tiny_config


def numpy_sinkhorn(scores, epsilon, iterations):
    q = np.exp(scores / epsilon).T
    q /= q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q /= q.sum(1, keepdims=True) * k
        q /= q.sum(0, keepdims=True) * b
    return (q * b).T


def test_sinkhorn_gives_every_prototype_an_equal_share_as_numpy_does():
    scores = np.random.default_rng(9).uniform(-1, 1, (12, 4))
    codes = np.asarray(swav.sinkhorn(jnp.asarray(scores, jnp.float32), 0.05, 3))
    np.testing.assert_allclose(codes, numpy_sinkhorn(scores, 0.05, 3), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(codes.sum(1), 1.0, rtol=1e-5)  # The last scaling is exact.
    many = np.asarray(swav.sinkhorn(jnp.asarray(scores, jnp.float32), 0.5, 100))
    np.testing.assert_allclose(many.sum(0), 12 / 4, rtol=1e-4)  # Equipartition, converged.


def test_swav_loss_is_the_swapped_prediction_of_the_codes():
    rng = np.random.default_rng(10)
    out, prototypes = rng.normal(size=(8, 3)), rng.normal(size=(5, 3))
    settings = swav.Settings(5, temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, queue_size=0)

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    scores = unit(out) @ unit(prototypes).T
    s1, s2 = scores[:4], scores[4:]
    q1, q2 = (numpy_sinkhorn(s, 0.05, 3) for s in (s1, s2))

    def log_softmax(s):
        s = s / 0.1
        return s - np.log(np.exp(s).sum(1, keepdims=True))

    expected = -0.5 * np.mean(np.sum(q2 * log_softmax(s1) + q1 * log_softmax(s2), 1))
    got = swav.loss(jnp.asarray(out, jnp.float32), jnp.asarray(prototypes, jnp.float32), settings)
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)


def test_swavs_queue_joins_sinkhorn_once_full_and_takes_each_views_projections():
    rng = np.random.default_rng(15)
    out, prototypes = rng.normal(size=(8, 3)), rng.normal(size=(5, 3))
    queue = rng.normal(size=(2, 6, 3))
    queue /= np.linalg.norm(queue, axis=-1, keepdims=True)
    settings = swav.Settings(5, 0.1, 0.05, 3, queue_size=6)

    def unit(a):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    def log_softmax(s):
        return s / 0.1 - np.log(np.exp(s / 0.1).sum(1, keepdims=True))

    scores = unit(out) @ unit(prototypes).T
    s1, s2 = scores[:4], scores[4:]
    queued = [unit(q) @ unit(prototypes).T for q in queue]
    pairs = zip(queued, (s1, s2), strict=True)
    q1, q2 = (numpy_sinkhorn(np.concatenate([q, s]), 0.05, 3)[-4:] for q, s in pairs)
    expected = -0.5 * np.mean(np.sum(q2 * log_softmax(s1) + q1 * log_softmax(s2), 1))
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    got = swav.loss(f32(out), f32(prototypes), settings, f32(queue))
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)
    filling = queue.copy()
    filling[:, -1] = 0  # Not full yet: the batch's codes alone, as without a queue.
    alone = swav.loss(f32(out), f32(prototypes), settings)
    filled = swav.loss(f32(out), f32(prototypes), settings, f32(filling))
    np.testing.assert_allclose(float(filled), float(alone), rtol=1e-6)
    new = np.asarray(swav.enqueue(f32(queue), f32(out)))
    np.testing.assert_allclose(new[0, :4], unit(out[:4]), rtol=1e-5)
    np.testing.assert_allclose(new[1, :4], unit(out[4:]), rtol=1e-5)
    np.testing.assert_allclose(new[:, 4:], queue[:, :2], rtol=1e-6)  # The oldest four left.


def test_swavs_multi_crop_loss_predicts_each_views_codes_from_every_other_crop():
    """The paper's code: codes from the two large views; each predicted by the `V + 1` other
    crops, averaged, then over the two views."""
    rng = np.random.default_rng(17)
    b, v = 4, 3
    out, prototypes = rng.normal(size=((2 + v) * b, 3)), rng.normal(size=(5, 3))
    settings = swav.Settings(5, 0.1, 0.05, 3, queue_size=0, small_crops=v)

    def unit(a):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    def log_softmax(s):
        return s / 0.1 - np.log(np.exp(s / 0.1).sum(1, keepdims=True))

    crops = np.split(unit(out) @ unit(prototypes).T, 2 + v)
    expected = 0.0
    for i in (0, 1):
        q = numpy_sinkhorn(crops[i], 0.05, 3)
        others = [c for j, c in enumerate(crops) if j != i]
        expected -= sum(np.mean(np.sum(q * log_softmax(c), 1)) for c in others) / (1 + v)
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    got = swav.loss(f32(out), f32(prototypes), settings)
    np.testing.assert_allclose(float(got), expected / 2, rtol=1e-4)


def test_swavs_small_crops_are_a_second_group_of_smaller_views():
    images = np.random.default_rng(18).integers(0, 256, (4, 28, 28, 1), np.uint8)
    cfg = StepConfig(1, 28, crop_padding=0, flip=True, views=ViewSpec())
    key, batch = jax.random.key(0), {"images": images}
    settings = swav.Settings(5, 0.1, 0.05, 3, 0, small_crops=3)
    (large, small), aux = jax.jit(lambda k, b: swav.multi_crop(settings)(k, b, cfg))(key, batch)
    assert aux is None and small.shape == (12, 12, 12, 1)  # 28 * 96 / 224 px, as the paper's.
    np.testing.assert_array_equal(
        large,
        jax.jit(lambda k, b: simclr.build(get_config("smoke")).views(k, b, cfg))(key, batch)[0],
    )
    assert len({np.asarray(crop).tobytes() for crop in np.split(small, 3)}) == 3
    sized = dataclasses.replace(settings, small_crop_size=7)
    shapes = jax.eval_shape(lambda k, b: swav.multi_crop(sized)(k, b, cfg), key, batch)
    assert shapes[0][1].shape == (12, 7, 7, 1)


@pytest.mark.slow
def test_swav_multi_crop_trains_on_pooled_features_and_queues_the_two_views(tmp_path):
    changes = {"swav.small_crops": 2, "swav.queue_size": 32, "model.pool": "avg"}
    config, state, after = first_step(tmp_path, "swav", **changes)
    b = config.batch_size
    queue = np.asarray(after.extra["queue"])
    assert queue.shape[1] == 32 and not np.any(queue[:, b:])
    np.testing.assert_allclose(np.linalg.norm(queue[:, :b], axis=-1), 1.0, rtol=1e-5)
    moved = jax.tree.leaves(jax.tree.map(np.array_equal, state.batch_stats, after.batch_stats))
    assert not any(moved)  # The running statistics moved.


def test_multi_crop_on_flattened_features_is_one_sentence(tmp_path):
    config = tiny_config(str(tmp_path))
    config.update_from_flattened_dict({"objective": "swav", "swav.small_crops": 2})
    with pytest.raises(UserError, match=re.escape("add --config.model.pool=avg")):
        check_config(config)
    config.model.pool = "avg"
    check_config(config)


def test_swavs_queue_fills_from_the_step(tmp_path):
    config, state, after = first_step(tmp_path, "swav", **{"swav.queue_size": 32})
    b = config.batch_size
    assert not np.any(state.extra["queue"])
    queue = np.asarray(after.extra["queue"])
    np.testing.assert_allclose(np.linalg.norm(queue[:, :b], axis=-1), 1.0, rtol=1e-5)
    assert not np.any(queue[:, b:])


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("swav.queue_size", -1, "swav.queue_size=-1 is invalid: it must be 0 (no queue) or"),
        ("swav.epsilon", 0.0, "swav.epsilon=0.0 is invalid: it must be positive"),
        (
            "swav.small_crop_scale",
            (0.5, 0.2),
            "swav.small_crop_scale=(0.5, 0.2) is invalid: it must be (low, high)",
        ),
    ],
)
def test_a_bad_swav_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, swav.check)

"""MoCo v2 (`natjax.objectives.moco`): InfoNCE against the queue, and the target's keys of the
second views entering it."""

import jax.numpy as jnp
import numpy as np
import pytest

from natjax.objectives import moco
from tests.helpers import assert_refused, first_step


def test_moco_loss_is_info_nce_against_the_queue_and_keys_enter_it_first():
    rng = np.random.default_rng(8)
    q, k = rng.normal(size=(2, 3, 4)).astype(np.float32)
    queue = rng.normal(size=(5, 4)).astype(np.float32)
    queue /= np.linalg.norm(queue, axis=1, keepdims=True)
    qn, kn = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (q, k))
    expected = 0.0
    for i in range(3):
        logits = np.concatenate([[qn[i] @ kn[i]], queue @ qn[i]]) / 0.2
        expected += -(logits[0] - np.log(np.exp(logits).sum())) / 3
    np.testing.assert_allclose(float(moco.info_nce(q, k, queue, 0.2)), expected, rtol=1e-5)
    new = np.asarray(moco.enqueue(jnp.asarray(queue), jnp.asarray(k)))
    np.testing.assert_allclose(new[:3], kn, rtol=1e-5)
    np.testing.assert_array_equal(new[3:], queue[:2])  # The oldest two left.


def test_mocos_queue_takes_the_targets_keys_of_the_second_views(tmp_path):
    config, state, after = first_step(tmp_path, "moco", **{"moco.queue_size": 64})
    old = state.extra["queue"]
    new = np.asarray(after.extra["queue"])
    b = config.batch_size
    np.testing.assert_array_equal(new[b:], old[: 64 - b])
    np.testing.assert_allclose(np.linalg.norm(new[:b], axis=1), 1.0, rtol=1e-5)
    assert "target_out" not in after.extra


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("moco.momentum", 1.0, "moco.momentum=1.0 is invalid: it must be in [0, 1)"),
        ("moco.queue_size", 0, "moco.queue_size=0 is invalid: it must be a positive integer"),
        ("moco.temperature", -0.1, "moco.temperature=-0.1 is invalid: it must be positive"),
    ],
)
def test_a_bad_moco_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, moco.check)

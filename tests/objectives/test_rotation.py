"""RotNet (`natjax.objectives.rotation`): the four turns of each view, and cross-entropy on
them."""

import jax
import numpy as np

from configs.nat import get_config
from natjax.objectives import StepConfig, rotation, supervised


def test_rotated_views_are_the_four_turns_with_their_labels():
    b = 3
    images = np.random.default_rng(1).integers(0, 255, (b, 6, 6, 1)).astype(np.uint8)
    cfg = StepConfig(1, crop_size=6, crop_padding=0, flip=False)
    x, labels = rotation.rotated_views(jax.random.key(0), {"images": images}, cfg)
    assert x.shape == (4 * b, 6, 6, 1) and labels.tolist() == [0] * b + [1] * b + [2] * b + [3] * b
    for k in range(4):
        np.testing.assert_array_equal(x[k * b : (k + 1) * b], np.rot90(images, k, axes=(1, 2)))


def test_rotation_loss_is_cross_entropy_on_the_turns():
    logits = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    labels = np.repeat(np.arange(4), 2)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(8), labels]))
    np.testing.assert_allclose(float(supervised.loss(logits, labels)), expected, rtol=1e-5)
    rotation_loss = rotation.build(get_config("smoke")).loss(logits, labels, {}, None)
    assert float(rotation_loss) == float(supervised.loss(logits, labels))

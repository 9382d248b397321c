"""The labelled reference (`natjax.objectives.supervised`): cross-entropy on a head with one
output per class, which learns a batch's labels on the shared step."""

import numpy as np

from configs.nat import get_config
from natjax import objectives
from natjax.objectives import supervised
from tests.helpers import is_permutation, make, objective_config


def test_supervised_step_learns_the_labels_of_a_batch():
    n = b = 16
    objective = objectives.build(objective_config("supervised"))
    state, step, images = make(n, b, objective=objective, crop_padding=0, flip=False)
    batch = {"images": images, "ids": np.arange(b), "labels": np.arange(b) % 4}
    losses = []
    for _ in range(60):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
        assert not bool(metrics["reassigned"])
    assert losses[0] > 1.0 and losses[-1] < 0.5 * losses[0], losses
    assert is_permutation(state.perm, n) and step._cache_size() == 1


def test_the_head_has_one_output_per_class_and_the_batches_carry_labels():
    objective = supervised.build(get_config("smoke"))
    assert objective.needs_labels and objective.head_dim(10) == 10 and not objective.strong_views
    assert supervised.SPEC.recipe == {"optim.learning_rate": 0.01}


def test_the_loss_is_the_mean_cross_entropy():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]], np.float32))
    expected = -(np.log(0.5) + np.log(0.1)) / 2
    np.testing.assert_allclose(float(supervised.loss(logits, np.array([0, 2]))), expected, 1e-6)


def test_multi_hot_labels_get_a_sigmoid_per_class():
    logits = np.array([[2.0, -1.0, 0.0]], np.float32)
    labels = np.array([[1, 0, 1]], np.int32)
    p = 1 / (1 + np.exp(-logits[0]))
    expected = -(np.log(p[0]) + np.log(1 - p[1]) + np.log(p[2])) / 3
    np.testing.assert_allclose(float(supervised.loss(logits, labels)), expected, 1e-6)

"""Multi-label classification (`natjax.evaluation.multilabel`): VOC's protocol, a sigmoid per
class on frozen features scored by mean average precision over the classes."""

import numpy as np

from natjax.evaluation import multilabel
from natjax.evaluation.stream import in_memory


def test_map_is_one_for_a_perfect_ranking_and_the_mean_of_each_classs_ap():
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    assert multilabel.mean_average_precision(labels.astype(float), labels) == 1.0
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.2, 0.6], [0.1, 0.9]])
    # Class 0 ranks its positives 1st and 3rd: AP (1 + 2/3) / 2. Class 1 ranks rows 3, 1, 2, 0
    # (scores 0.9, 0.7, 0.6, 0.1): positives 2nd and 3rd, AP (1/2 + 2/3) / 2.
    expected = ((1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2) / 2
    np.testing.assert_allclose(multilabel.mean_average_precision(scores, labels), expected)


def test_a_class_without_a_positive_test_image_is_left_out():
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.7, 0.6, 0.5]])
    assert multilabel.mean_average_precision(scores, labels) == 1.0


def test_the_linear_probe_separates_features_that_carry_each_label():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (200, 4)).astype(np.int32)
    labels[labels.sum(1) == 0, 0] = 1
    x = labels.astype(np.float32) + 0.1 * rng.standard_normal((200, 4)).astype(np.float32)
    train, test = in_memory(x[:150], labels[:150], x[150:], labels[150:], chunk=50)
    score = multilabel.linear_map(train, test, 4, epochs=30, batch_size=50)
    assert score > 0.99
    noise = rng.standard_normal((200, 4)).astype(np.float32)
    train, test = in_memory(noise[:150], labels[:150], noise[150:], labels[150:], chunk=50)
    assert multilabel.linear_map(train, test, 4, epochs=30, batch_size=50) < 0.8  # Chance: ~0.5.

"""The linear probe (`natjax.evaluation.linear`): it separates separable classes, stays near
chance on noise, and gives the same top-1 on features held in memory and re-encoded."""

import numpy as np
import pytest

from configs.nat import get_config
from natjax.evaluation import linear
from tests.evaluation.streams import blobs, in_memory_and_streamed, stream


def test_linear_probe_separates_linearly_separable_classes():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(5, 20)) * 5
    train_y, test_y = rng.integers(0, 5, 500), rng.integers(0, 5, 200)
    train_x = centers[train_y] + rng.normal(size=(500, 20))
    test_x = centers[test_y] + rng.normal(size=(200, 20))
    assert linear.top1_in_memory(train_x, train_y, test_x, test_y, 5) == 1.0


def test_linear_probe_on_noise_is_near_chance():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2000, 10)), rng.integers(0, 4, 2000)
    acc = linear.top1_in_memory(x[:1000], y[:1000], x[1000:], y[1000:], 4)
    assert 0.18 < acc < 0.32


@pytest.mark.parametrize("spread", [pytest.param(5.0, marks=pytest.mark.slow), 0.4])
def test_in_memory_and_streamed_features_give_the_same_top1(spread):
    """Separable classes: perfect either way; overlapping ones: the same figure, since the
    same chunks come in the same order (the old full-batch probe is gone)."""
    streamed, in_memory = in_memory_and_streamed(spread=spread)
    settings = {"epochs": 5, "batch_size": 16, "learning_rate": 1e-2}
    got = [linear.top1(*pair, 5, **settings) for pair in (streamed, in_memory)]
    assert got[0] == got[1], got
    if spread == 5.0:
        assert got[0] == 1.0
    else:
        assert 0.4 < got[0] < 0.95, got


def test_the_probes_settings_come_from_eval_linear_and_the_seed():
    config = get_config()
    config.seed = 3
    expected = {"epochs": 5, "batch_size": 256, "learning_rate": 1e-2, "l2": 1e-4, "seed": 3}
    assert linear.settings(config) == expected


@pytest.mark.slow
def test_the_probe_is_a_pure_function_of_its_inputs_and_seed():
    (x, y), (q, qy) = blobs(4, 400, spread=0.4), blobs(4, 300, spread=0.4)
    runs = [linear.top1(stream(x, y), stream(q, qy), 5, seed=1, batch_size=16) for _ in range(2)]
    assert runs[0] == runs[1]

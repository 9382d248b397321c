"""The MLP probe (`natjax.evaluation.mlp`): it learns what a linear probe cannot, and gives
the same top-1 on features held in memory and re-encoded."""

import numpy as np

from configs.nat import get_config
from natjax.evaluation import linear, mlp
from tests.evaluation.streams import in_memory_and_streamed


def test_mlp_probe_learns_what_a_linear_probe_cannot():
    # XOR of the signs of two coordinates: no linear boundary, an easy one for one hidden layer.
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(3000, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int32)
    train, test = slice(0, 2000), slice(2000, None)
    arrays = (x[train], y[train], x[test], y[test], 2)
    lin = linear.top1_in_memory(*arrays, chunk=64, batch_size=16)
    deep = mlp.top1_in_memory(*arrays, chunk=64, widths=(64,), epochs=30, batch_size=16)
    assert lin < 0.7 and deep > 0.95


def test_in_memory_and_streamed_features_give_the_same_top1():
    streamed, in_memory = in_memory_and_streamed()
    settings = {"widths": (32,), "epochs": 5, "batch_size": 16}
    got = [mlp.top1(*pair, 5, **settings) for pair in (streamed, in_memory)]
    assert got[0] == got[1] and 0.25 < got[0] < 0.95, got  # Above chance (0.2), not perfect.


def test_the_probes_settings_come_from_eval_mlp_and_the_seed():
    config = get_config()
    assert mlp.settings(config) == {
        "widths": (512,),
        "epochs": 10,
        "batch_size": 256,
        "learning_rate": 1e-3,
        "weight_decay": 1e-4,
        "seed": 0,
    }

import numpy as np

from natjax import probes


def test_linear_probe_separates_linearly_separable_classes():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(5, 20)) * 5
    train_y, test_y = rng.integers(0, 5, 500), rng.integers(0, 5, 200)
    train_x = centers[train_y] + rng.normal(size=(500, 20))
    test_x = centers[test_y] + rng.normal(size=(200, 20))
    assert probes.linear_probe_top1(train_x, train_y, test_x, test_y, 5, steps=100) == 1.0


def test_linear_probe_on_noise_is_near_chance():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2000, 10)), rng.integers(0, 4, 2000)
    acc = probes.linear_probe_top1(x[:1000], y[:1000], x[1000:], y[1000:], 4, steps=100)
    assert 0.18 < acc < 0.32


def test_knn_on_duplicated_points_is_exact():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 16)), rng.integers(0, 7, 300)
    assert probes.knn_top1(x, y, x, y, 7, k=1, temperature=0.07) == 1.0


def test_knn_weights_votes_by_similarity():
    # Query [1, 0]: one very close neighbour of class 1 outweighs two distant ones of class 0.
    train_x = np.array([[1.0, 0.01], [0.2, 1.0], [0.2, -1.0]])
    train_y = np.array([1, 0, 0])
    assert (
        probes.knn_top1(
            train_x, train_y, np.array([[1.0, 0.0]]), np.array([1]), 2, k=3, temperature=0.07
        )
        == 1.0
    )
    assert (
        probes.knn_top1(
            train_x, train_y, np.array([[1.0, 0.0]]), np.array([0]), 2, k=3, temperature=100.0
        )
        == 1.0
    )  # Near-uniform weights: majority.


def test_mlp_probe_learns_what_a_linear_probe_cannot():
    # XOR of the signs of two coordinates: no linear boundary, an easy one for one hidden layer.
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(3000, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int32)
    train, test = slice(0, 2000), slice(2000, None)
    linear = probes.linear_probe_top1(x[train], y[train], x[test], y[test], 2, steps=100)
    mlp = probes.mlp_probe_top1(x[train], y[train], x[test], y[test], 2, widths=(64,), epochs=30)
    assert linear < 0.7 and mlp > 0.95

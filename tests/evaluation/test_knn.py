"""Weighted kNN (`natjax.evaluation.knn`): numpy's written-out rule, exact on duplicated
points, votes weighted by similarity, the same on features held in memory, re-encoded or
split over four devices, and the monitor's `predict` on a masked bank."""

import jax.numpy as jnp
import numpy as np
import pytest

from configs.nat import get_config
from natjax.evaluation import knn
from tests.evaluation.streams import in_memory_and_streamed, numpy_knn, stream
from tests.helpers import ROOT, last_json, python


def test_knn_on_duplicated_points_is_exact():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 16)), rng.integers(0, 7, 300)
    assert knn.top1_in_memory(x, y, x, y, 7, k=1, temperature=0.07) == 1.0


def test_knn_weights_votes_by_similarity():
    # Query [1, 0]: one very close neighbour of class 1 outweighs two distant ones of class 0.
    train_x = np.array([[1.0, 0.01], [0.2, 1.0], [0.2, -1.0]])
    train_y = np.array([1, 0, 0])
    query = np.array([[1.0, 0.0]])
    assert knn.top1_in_memory(train_x, train_y, query, np.array([1]), 2, k=3) == 1.0
    near_uniform = knn.top1_in_memory(
        train_x, train_y, query, np.array([0]), 2, k=3, temperature=100.0
    )
    assert near_uniform == 1.0  # Near-uniform weights: majority.


def test_streamed_knn_is_numpys_weighted_knn():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 16)), rng.integers(0, 7, 300)
    q, qy = rng.normal(size=(90, 16)), rng.integers(0, 7, 90)
    for k in (1, 10, 300):
        expected = numpy_knn(x, y, q, qy, 7, k)
        assert knn.top1(stream(x, y), stream(q, qy), 7, k=k) == expected, k
        assert knn.top1_in_memory(x, y, q, qy, 7, k=k) == expected, k
    assert knn.top1(stream(x, y), stream(x, y), 7, k=1) == 1.0
    assert knn.top1(stream(x, y), stream(q, qy), 7, k=1000) == numpy_knn(x, y, q, qy, 7, 300)


def test_in_memory_and_streamed_features_give_the_same_top1():
    streamed, in_memory = in_memory_and_streamed()
    got = [knn.top1(*pair, 5, k=20) for pair in (streamed, in_memory)]
    assert got[0] == got[1] and 0.4 < got[0] < 0.95, got


def test_vote_and_predict_ignore_the_masked_rows_of_the_bank():
    sims = jnp.array([[0.9, 0.5, 0.4]])
    assert int(knn.vote(sims, jnp.array([[1, 0, 0]]), 2, 0.07)[0]) == 1
    assert int(knn.vote(sims, jnp.array([[1, 0, 0]]), 2, 100.0)[0]) == 0
    bank = jnp.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = jnp.array([0, 1, 1])
    query = jnp.array([[0.8, 0.6]])
    settings = {"k": 1, "temperature": 0.07, "num_classes": 2}
    assert int(knn.predict(query, bank, labels, **settings)[0]) == 1  # Row 2 is nearest.
    mask = jnp.array([True, True, False])
    assert int(knn.predict(query, bank, labels, bank_mask=mask, **settings)[0]) == 0


def test_the_protocols_settings_come_from_the_config():
    config = get_config("smoke")
    assert knn.settings(config) == {"k": 20, "temperature": 0.07}


ON_FOUR_DEVICES = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
sys.path.insert(0, {root!r})
from natjax.evaluation import classifier, knn, linear
from natjax.evaluation.stream import array_stream
from natjax.parallel import sharding
from tests.evaluation.streams import numpy_knn

rng = np.random.default_rng(5)
centers = rng.normal(size=(4, 12)) * 5
y, qy = rng.integers(0, 4, 301), rng.integers(0, 4, 77)
x, q = centers[y] + rng.normal(size=(301, 12)), centers[qy] + rng.normal(size=(77, 12))
mesh = sharding.make_mesh()
def stream(a, b):
    return array_stream(a.astype(np.float32), b, 64, mesh)
mean, std = classifier.moments(stream(x, y))
close = np.allclose(mean, x.mean(0), atol=1e-4) and np.allclose(std, x.std(0), atol=1e-4)
print(json.dumps({{
    "devices": jax.device_count(),
    "moments": bool(close),
    "knn": knn.top1(stream(x, y), stream(q, qy), 4, k=15),
    "knn_reference": numpy_knn(x, y, q, qy, 4, 15),
    "linear": linear.top1(stream(x, y), stream(q, qy), 4, batch_size=16),
}}))
"""


@pytest.mark.slow
def test_the_streamed_protocols_on_four_devices():
    """Chunks split over 4 devices: minibatches of 16 stay on their devices, the kNN bank
    chunk is gathered and the queries stay split; the padding neither votes nor counts."""
    out = python(ON_FOUR_DEVICES.format(root=ROOT), 4, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = last_json(out)
    assert result["devices"] == 4 and result["moments"], result
    assert result["knn"] == result["knn_reference"] > 0.9
    assert result["linear"] > 0.95


@pytest.mark.parametrize("chunk", [1, 64, 1024])
def test_the_chunk_size_does_not_change_the_figure(chunk):
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(100, 8)), rng.integers(0, 3, 100)
    q, qy = rng.normal(size=(30, 8)), rng.integers(0, 3, 30)
    assert knn.top1_in_memory(x, y, q, qy, 3, chunk=chunk, k=5) == numpy_knn(x, y, q, qy, 3, 5)

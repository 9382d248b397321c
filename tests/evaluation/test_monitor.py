"""The kNN monitor (`natjax.evaluation.monitor`): fair subsets drawn by the run's seed, and on
the devices the kNN rule's figure on the encoder's features."""

import jax
import numpy as np
import pytest

from configs.nat import get_config
from natjax.data import Dataset, Split
from natjax.evaluation import knn, monitor
from natjax.models import NATModel, SmallConvNet, features
from natjax.objectives.state import init_variables
from natjax.parallel import sharding
from tests.evaluation.streams import numpy_knn
from tests.helpers import ROOT, last_json, python


def test_monitor_subsets_are_fair_on_a_split_stored_class_by_class():
    labels = np.repeat(np.arange(10), 100).astype(np.int32)  # As image folders are read.
    split = Split(np.arange(1000, dtype=np.int32)[:, None, None, None], labels)  # Pixel = id.
    config = get_config("smoke")
    config.eval.update(monitor_train_examples=200, monitor_test_examples=50)
    bank, queries = monitor.monitor_subsets(config, Dataset("sorted", split, split, 10))
    assert len(bank) == 200 and len(queries) == 50
    assert set(bank.labels) == set(range(10)) and len(set(queries.labels)) >= 8
    ids = bank.images[:, 0, 0, 0]
    assert np.all(np.diff(ids) > 0)  # Distinct, in id order, each with its own label.
    np.testing.assert_array_equal(bank.labels, labels[ids])
    again, _ = monitor.monitor_subsets(config, Dataset("sorted", split, split, 10))
    np.testing.assert_array_equal(again.images, bank.images)  # Drawn by the run's seed.
    assert split.sample(0, 0) is split and split.sample(5000, 0) is split


def monitor_and_knn() -> dict:
    """The monitor's top-1 on this process's devices, the kNN protocol's and numpy's on the
    features it extracts: a random encoder on three toy classes."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 90).astype(np.int32)
    images = rng.integers(0, 60, (90, 8, 8, 1)) + 60 * labels[:, None, None, None]
    split = Split(images.astype(np.uint8), labels)
    dataset = Dataset("toy", split, split, 3)
    config = get_config("smoke")
    config.eval.update(batch_size=16, knn_k=7, monitor_train_examples=61, monitor_test_examples=29)
    model = NATModel(SmallConvNet((4,)), target_dim=4)
    variables = init_variables(model, jax.random.key(0), (8, 8, 1))
    mesh = sharding.make_mesh()
    on_device = monitor.KnnMonitor(config, model, dataset, 8, mesh)(
        jax.device_put(variables, sharding.state_sharding(mesh))
    )
    bank, queries = monitor.monitor_subsets(config, dataset)
    encode = features.make_encode_fn(model, 8)
    bank_x = features.extract(encode, variables, bank.images, 16)
    query_x = features.extract(encode, variables, queries.images, 16)
    return {
        "devices": jax.device_count(),
        "on_device": on_device,
        "protocol": knn.top1_in_memory(bank_x, bank.labels, query_x, queries.labels, 3, k=7),
        "reference": numpy_knn(bank_x, bank.labels, query_x, queries.labels, 3, 7),
    }


ON_DEVICES = """
import json, sys
sys.path.insert(0, {root!r})
from tests.evaluation.test_monitor import monitor_and_knn
print(json.dumps(monitor_and_knn()))
"""


@pytest.mark.parametrize("devices", [1, pytest.param(4, marks=pytest.mark.slow)])
def test_the_on_device_monitor_matches_the_knn_protocol_on_extracted_features(devices):
    """The bank (61) and queries (29) do not fill whole chunks of 16: the padding must neither
    vote nor count; on 4 devices each chunk is split over the mesh."""
    if devices == 1:  # This process's one device.
        result = monitor_and_knn()
    else:
        out = python(ON_DEVICES.format(root=ROOT), devices, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        result = last_json(out)
    assert result["devices"] == devices
    assert result["on_device"] == result["protocol"] == result["reference"]
    assert 0.4 < result["reference"] < 1.0  # The toy classes are separable, the encoder random.

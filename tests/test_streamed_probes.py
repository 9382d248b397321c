"""The streamed probes agree with the in-memory ones, and their memory does not grow with the
number of training examples."""

import json
import time

import jax.numpy as jnp
import numpy as np
import pytest

from natjax import probes, sharding, streamed_probes
from natjax.feature_stream import FeatureStream


def stream(x, y, chunk=64) -> FeatureStream:
    """Host features `x` as a stream on this process's mesh."""
    x = np.asarray(x, np.float32)
    return FeatureStream(
        lambda rows: x[rows], jnp.asarray, y, x.shape[1:], np.float32, chunk, sharding.make_mesh()
    )


def blobs(seed, n, dims=20, classes=5, spread=5.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dims)) * spread
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(size=(n, dims)), y


def test_a_stream_refuses_to_be_materialised_by_accident():
    s = stream(*blobs(0, 100))
    with pytest.raises(TypeError, match="chunk by chunk"):
        np.asarray(s)
    assert s.gather().shape == (100, 20) and s.nbytes == 100 * 20 * 4


def test_streamed_moments_are_numpys():
    x, y = blobs(1, 301)  # Not a whole number of chunks: the padding must not count.
    x = x * np.arange(1, 21) + 100.0
    mean, std = streamed_probes.moments(stream(x, y))
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(std, x.std(0) + 1e-6, rtol=1e-4)


def test_chunks_are_read_ahead_in_order_and_a_failed_read_is_raised_at_its_chunk():
    x, y = blobs(2, 200)
    reads = []

    def read(rows):
        reads.append(int(rows[0]))
        if len(reads) == 3:
            raise OSError("disk gone")
        return x[rows].astype(np.float32)

    s = FeatureStream(read, jnp.asarray, y, (20,), np.float32, 64, sharding.make_mesh())
    chunks = s.chunks()
    first = next(chunks)
    np.testing.assert_allclose(first.x, x[:64], rtol=1e-6)
    deadline = time.monotonic() + 30
    while len(reads) < 2 and time.monotonic() < deadline:  # The next chunk is read meanwhile.
        time.sleep(0.01)
    assert reads[:2] == [0, 64]
    assert next(chunks).labels.tolist() == y[64:128].tolist()
    with pytest.raises(OSError, match="disk gone"):
        next(chunks)
    assert reads == [0, 64, 128]


@pytest.mark.parametrize("spread", [5.0, 0.4])
def test_the_minibatch_probe_agrees_with_lbfgs(spread):
    """Separable classes: both are perfect; overlapping ones: within 2 points."""
    (x, y), (tx, ty) = blobs(2, 2000, spread=spread), blobs(2, 1000, spread=spread)
    tx, ty = tx[500:], ty[500:]  # Same centres, fresh points.
    lbfgs = probes.linear_probe_top1(x, y, tx, ty, 5, steps=100)
    minibatch = streamed_probes.linear_probe_top1(
        stream(x, y), stream(tx, ty), 5, epochs=5, batch_size=16, learning_rate=1e-2
    )
    if spread == 5.0:
        assert lbfgs == minibatch == 1.0
    else:
        assert 0.4 < lbfgs < 0.95 and abs(lbfgs - minibatch) <= 0.02, (lbfgs, minibatch)


def test_streamed_knn_is_the_in_memory_knn():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 16)), rng.integers(0, 7, 300)
    q, qy = rng.normal(size=(90, 16)), rng.integers(0, 7, 90)
    for k in (1, 10, 300):
        expected = probes.knn_top1(x, y, q, qy, 7, k=k, temperature=0.07)
        got = streamed_probes.knn_top1(stream(x, y), stream(q, qy), 7, k=k, temperature=0.07)
        assert got == expected, k
    assert streamed_probes.knn_top1(stream(x, y), stream(x, y), 7, k=1) == 1.0


def test_the_streamed_mlp_probe_learns_xor():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(3000, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int32)
    train, test = stream(x[:2000], y[:2000]), stream(x[2000:], y[2000:])
    linear = streamed_probes.linear_probe_top1(train, test, 2, batch_size=16)
    mlp = streamed_probes.mlp_probe_top1(train, test, 2, widths=(64,), epochs=30, batch_size=16)
    assert linear < 0.7 and mlp > 0.95


PEAK_MEMORY = """
import json, sys
import jax.numpy as jnp, numpy as np
sys.path.insert(0, {root!r})
from natjax import sharding, streamed_probes
from natjax.feature_stream import FeatureStream

DIMS, CLASSES = 256, 10
rng = np.random.default_rng(0)
centers = rng.normal(size=(CLASSES, DIMS)).astype(np.float32)
noise = rng.normal(size=(4096, DIMS)).astype(np.float32)
mesh = sharding.make_mesh()

def synthetic(n, seed):
    labels = np.random.default_rng(seed).integers(0, CLASSES, n)
    def read(rows):  # Each row's features made on demand: nothing of size n x DIMS exists.
        return centers[labels[rows]] + noise[(rows * 7919 + seed) % 4096]
    return FeatureStream(read, jnp.asarray, labels, (DIMS,), np.float32, 1024, mesh)

def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))

test = synthetic(500, 1)
out = {{}}
for n in (10_000, 20_000, {n}):  # The first warms up: compilation, allocator pools.
    train = synthetic(n, 2)
    linear = streamed_probes.linear_probe_top1(train, test, CLASSES, epochs=1, batch_size=256)
    knn = streamed_probes.knn_top1(train, test, CLASSES, k=20)
    out[n] = {{"peak_kib": peak_kib(), "bytes": train.nbytes, "linear": linear, "knn": knn}}
print(json.dumps(out))
"""


def test_streamed_evaluation_memory_does_not_grow_with_the_training_set():
    """An 819 MB synthetic feature stream is probed (linear, kNN) after a 20 MB one: the
    process's peak resident memory grows by less than a tenth of the stream (its O(n) labels
    and random order are 13 MB; the allocator's noise was 20-30 MB between small runs).
    Holding the features, or any array of n x D, would add 819 MB."""
    from test_scale_out import python

    from conftest import ROOT

    n = 800_000
    out = python(PEAK_MEMORY.format(root=ROOT, n=n), 1)
    assert out.returncode == 0, out.stderr[-3000:]
    _, small, large = json.loads(out.stdout.strip().splitlines()[-1]).values()
    assert large["bytes"] == n * 256 * 4 == 40 * small["bytes"]
    assert large["linear"] > 0.99 and large["knn"] > 0.99  # Real work was done.
    growth = (large["peak_kib"] - small["peak_kib"]) * 1024
    assert growth < 0.1 * large["bytes"], (growth, small, large)


def test_the_feature_budget_picks_lbfgs_or_the_streamed_probes(tmp_path, monkeypatch):
    """Features within `eval.max_feature_bytes` are gathered and fitted by L-BFGS; one byte
    over, nothing is gathered and every probe streams."""
    import jax

    from conftest import tiny_config
    from natjax import data, evaluation, feature_stream
    from natjax.models import create_model
    from natjax.state import init_variables

    config = tiny_config(str(tmp_path))
    dataset = data.load(config.data)
    model = create_model(config)
    variables = init_variables(model, jax.random.key(0), (12, 12, 1))
    run = evaluation.evaluate

    def evaluate(budget):
        config.eval.max_feature_bytes = budget
        return run(config, model, variables, variables, dataset, 12, ("linear", "knn", "mlp"))

    in_memory = evaluate(10**12)
    nbytes = len(dataset.train) * in_memory["feature_dim"] * 4
    assert evaluation.evaluate(
        config, model, variables, variables, dataset, 12, ("knn",)
    ).keys() == {"feature_dim", "knn_top1"}
    assert evaluate(nbytes)["linear_probe_solver"] == "lbfgs"
    assert in_memory["linear_probe_solver"] == "lbfgs"

    def refuse(*args, **kwargs):
        raise AssertionError("materialised")

    monkeypatch.setattr(feature_stream.FeatureStream, "gather", refuse)
    monkeypatch.setattr(probes, "linear_probe_top1", refuse)
    streamed = evaluate(nbytes - 1)
    assert streamed["linear_probe_solver"] == "minibatch"
    assert streamed["knn_top1"] == in_memory["knn_top1"]  # Exact either way.
    for key in ("linear_probe_top1", "mlp_probe_top1"):
        assert abs(streamed[key] - in_memory[key]) <= 0.1, key  # 40 toy test images.


ON_FOUR_DEVICES = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
sys.path.insert(0, {root!r})
from natjax import probes, sharding, streamed_probes
from natjax.feature_stream import FeatureStream

rng = np.random.default_rng(5)
centers = rng.normal(size=(4, 12)) * 5
y, qy = rng.integers(0, 4, 301), rng.integers(0, 4, 77)
x, q = centers[y] + rng.normal(size=(301, 12)), centers[qy] + rng.normal(size=(77, 12))
mesh = sharding.make_mesh()
def stream(a, b):
    a = a.astype(np.float32)
    return FeatureStream(lambda rows: a[rows], jnp.asarray, b, (12,), np.float32, 64, mesh)
mean, std = streamed_probes.moments(stream(x, y))
close = np.allclose(mean, x.mean(0), atol=1e-4) and np.allclose(std, x.std(0), atol=1e-4)
print(json.dumps({{
    "devices": jax.device_count(),
    "moments": bool(close),
    "knn": streamed_probes.knn_top1(stream(x, y), stream(q, qy), 4, k=15),
    "knn_reference": probes.knn_top1(x, y, q, qy, 4, k=15),
    "linear": streamed_probes.linear_probe_top1(stream(x, y), stream(q, qy), 4, batch_size=16),
}}))
"""


def test_the_streamed_probes_on_four_devices():
    """Chunks split over 4 devices: minibatches of 16 stay on their devices, the kNN bank
    chunk is gathered and the queries stay split; the padding neither votes nor counts."""
    from test_scale_out import python

    from conftest import ROOT

    out = python(ON_FOUR_DEVICES.format(root=ROOT), 4)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["moments"], result
    assert result["knn"] == result["knn_reference"] > 0.9
    assert result["linear"] > 0.95

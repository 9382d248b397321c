"""Feature streams (`natjax.evaluation.stream`): chunks read ahead in order, a failed read
raised at its chunk, padding marked invalid, no accidental materialisation, and the same
chunks whether the features are held in memory or re-encoded; memory that does not grow with
the training set."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax.data import Dataset, Split
from natjax.evaluation.stream import (
    FeatureStream,
    array_stream,
    dataset_streams,
    encoder_stream,
    hold,
    in_memory,
    pixel_stream,
)
from natjax.models import features
from natjax.parallel import sharding
from tests.evaluation.streams import blobs, reencoded, stream
from tests.helpers import ROOT, last_json, python, toy_model


def test_a_stream_refuses_to_be_materialised_by_accident():
    s = stream(*blobs(0, 100))
    with pytest.raises(TypeError, match="chunk by chunk"):
        np.asarray(s)
    assert s.gather().shape == (100, 20) and s.nbytes == 100 * 20 * 4
    assert len(s) == 100 and s.dim == 20


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


def test_the_last_chunk_is_padded_and_marked_invalid_and_a_seed_draws_the_order():
    x, y = blobs(3, 100)
    s = stream(x, y, chunk=64)
    last = list(s.chunks())[-1]
    assert last.x.shape == (64, 20) and last.valid.tolist() == [True] * 36 + [False] * 28
    np.testing.assert_allclose(last.x[:36], x[64:], rtol=1e-6)
    shuffled = [np.asarray(c.labels)[np.asarray(c.valid)] for c in s.chunks(seed=(0, 1))]
    again = [np.asarray(c.labels)[np.asarray(c.valid)] for c in s.chunks(seed=(0, 1))]
    drawn = np.concatenate(shuffled)
    assert sorted(drawn.tolist()) == sorted(y.tolist()) and not np.array_equal(drawn, y)
    assert all(np.array_equal(a, b) for a, b in zip(shuffled, again, strict=True))


def test_a_cached_stream_serves_the_chunks_the_stream_computes():
    x, y = blobs(4, 150)
    live = reencoded(x, y)
    held = live.cached()
    assert held.n == live.n and held.dim == live.dim == 16 and held.chunk == live.chunk
    for a, b in zip(live.chunks(seed=(1, 2)), held.chunks(seed=(1, 2)), strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.valid, b.valid)
    doubled = live.map(lambda f: 2 * f)
    np.testing.assert_allclose(doubled.gather(), 2 * live.gather(), rtol=1e-6)


def test_a_pytree_of_features_is_cached_as_one_stream_per_name():
    x, y = blobs(5, 70)
    mesh = sharding.make_mesh()
    s = FeatureStream(
        lambda rows: x[rows].astype(np.float32),
        lambda v: {"a": v, "b": v[:, :3]},
        y,
        (20,),
        np.float32,
        32,
        mesh,
    )
    assert s.dim is None and set(s.spec) == {"a", "b"}
    held = s.cached()
    assert set(held) == {"a", "b"} and held["b"].dim == 3
    np.testing.assert_allclose(held["a"].gather(), x, rtol=1e-6)


def test_in_memory_rounds_the_chunk_to_the_devices_and_hold_caches_on_request():
    x, y = blobs(6, 50)
    train, test = in_memory(x, y, x[:10], y[:10], chunk=30)
    assert train.chunk == 30 == test.chunk and train.n == 50 and test.n == 10
    assert hold((train, test), False) == (train, test)
    assert all(h.n == s.n for h, s in zip(hold((train, test), True), (train, test), strict=True))
    assert array_stream(x, y, 16, sharding.make_mesh()).gather().dtype == np.float32


def _toy_dataset(n=20, side=8):
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 255, (n, side, side, 1)).astype(np.uint8), rng.integers(0, 3, n))
    return Dataset("toy", split, Split(split.images[:7], split.labels[:7]), 3)


def test_an_encoder_stream_gives_the_encoders_features_and_pixels_are_in_the_unit_interval():
    dataset = _toy_dataset()
    model = toy_model()
    variables = model.init(jax.random.key(0), dataset.train.images[:1], train=False)
    fn = features.make_encode_fn(model, 8)
    train, test = dataset_streams(fn, variables, dataset, batch_size=6)
    assert (train.n, test.n, train.chunk, train.dim) == (20, 7, 6, 8 * 8 * 4)
    expected = features.extract(fn, variables, dataset.train.images, 6)
    np.testing.assert_allclose(train.gather(), expected, rtol=1e-6)
    one = encoder_stream(fn, variables, dataset.test, 4, sharding.make_mesh())
    np.testing.assert_allclose(
        one.gather(), features.extract(fn, variables, dataset.test.images, 4), rtol=1e-6
    )
    pixels = pixel_stream(dataset.train, 6, sharding.make_mesh())
    flat = dataset.train.images.reshape(20, -1).astype(np.float32) / 255
    np.testing.assert_allclose(pixels.gather(), flat, rtol=1e-6)


PEAK_MEMORY = """
import json, sys
import jax.numpy as jnp, numpy as np
sys.path.insert(0, {root!r})
from natjax.evaluation import knn, linear
from natjax.evaluation.stream import FeatureStream
from natjax.parallel import sharding

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
    top1 = linear.top1(train, test, CLASSES, epochs=1, batch_size=256)
    nearest = knn.top1(train, test, CLASSES, k=20)
    out[n] = {{"peak_kib": peak_kib(), "bytes": train.nbytes, "linear": top1, "knn": nearest}}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_streamed_evaluation_memory_does_not_grow_with_the_training_set():
    """An 819 MB synthetic feature stream is probed (linear, kNN) after a 20 MB one: the
    process's peak resident memory grows by less than a tenth of the stream (its O(n) labels
    and random order are 13 MB; the allocator's noise was 20-30 MB between small runs).
    Holding the features, or any array of n x D, would add 819 MB."""
    n = 800_000
    out = python(PEAK_MEMORY.format(root=ROOT, n=n), 1)
    assert out.returncode == 0, out.stderr[-3000:]
    _, small, large = last_json(out).values()
    assert large["bytes"] == n * 256 * 4 == 40 * small["bytes"]
    assert large["linear"] > 0.99 and large["knn"] > 0.99  # Real work was done.
    growth = (large["peak_kib"] - small["peak_kib"]) * 1024
    assert growth < 0.1 * large["bytes"], (growth, small, large)

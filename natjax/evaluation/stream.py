"""Features as a stream of chunks, the one input of every protocol: a frozen encoder run over a
split on every device of the mesh, one chunk at a time, so that no array of all the features
need ever exist (`encoder_stream`), or features already in host memory served the same way
(`array_stream`, `FeatureStream.cached`). A protocol sees the same chunks either way, so its
figure does not depend on where the features live."""

import dataclasses
from collections.abc import Callable, Iterator

import grain
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh

from natjax.parallel.sharding import batch_sharding, chunk_size, make_mesh, replicated

CHUNKS_AHEAD = 2  # Chunks read ahead of the one in use.


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One chunk of a stream: features `x` `[chunk, D]` split over the mesh's data axis, their
    `labels` `[chunk]` and `valid` `[chunk]` (False on the padding of the last chunk)."""

    x: jax.Array
    labels: jax.Array
    valid: jax.Array


class FeatureStream:
    """The features of `n` examples, `dim` columns each, made chunk by chunk on demand.

    `read(rows)` gives the host inputs of the examples `rows` (images, or features already);
    `device_fn(inputs)` turns a chunk of them, split over the mesh, into features `[chunk, D]`
    (a pytree of them for `gather`). Every pass re-reads and re-encodes: the stream holds only
    the labels, O(n). It refuses `np.asarray`, so that code meant to stream cannot
    materialise it by accident; `gather` does so on purpose.
    """

    def __init__(
        self,
        read: Callable[[np.ndarray], np.ndarray],
        device_fn: Callable,
        labels: np.ndarray,
        input_shape: tuple,
        input_dtype,
        chunk: int,
        mesh: Mesh,
    ):
        self._read, self._device_fn = read, device_fn
        self.labels = np.asarray(labels, np.int32)
        self._input = jax.ShapeDtypeStruct((chunk, *input_shape), input_dtype)
        self.chunk, self.mesh = chunk, mesh
        self.n = len(self.labels)
        self.spec = jax.eval_shape(device_fn, self._input)  # One chunk's features' shapes.
        self.dim = int(self.spec.shape[-1]) if hasattr(self.spec, "shape") else None

    @property
    def nbytes(self) -> int:
        """The bytes all `n` float32 feature rows would take."""
        return self.n * (self.dim or 0) * 4

    def __array__(self, *args, **kwargs):
        raise TypeError("a FeatureStream is streamed chunk by chunk; use gather() on purpose")

    def __len__(self) -> int:
        return self.n

    def map(self, fn: Callable) -> "FeatureStream":
        """The same stream with `fn` applied to each chunk's features on device."""
        device_fn = self._device_fn
        shape = self._input.shape[1:]
        return FeatureStream(
            self._read,
            lambda x: fn(device_fn(x)),
            self.labels,
            shape,
            self._input.dtype,
            self.chunk,
            self.mesh,
        )

    def chunks(self, seed=None) -> Iterator[Chunk]:
        """One pass: in id order, or in the random order that `seed` (anything
        `np.random.default_rng` takes) draws.

        The next chunks' rows are read and put on the devices by a background thread while the
        consumer works on this one; the consumer should finish a chunk's device work before it
        asks for the next (`jax.block_until_ready`), so that only one chunk's programs run at a
        time (on XLA:CPU's simulated devices, a collective program running beside the next
        chunk's encoder can starve its rendezvous and abort)."""
        rng = None if seed is None else np.random.default_rng(seed)
        order = np.arange(self.n) if rng is None else rng.permutation(self.n)
        starts = range(0, self.n, self.chunk)
        rows = [order[start : start + self.chunk] for start in starts]
        read = grain.ReadOptions(num_threads=1, prefetch_buffer_size=CHUNKS_AHEAD)
        loaded = iter(grain.MapDataset.source(rows).map(self._load).to_iter_dataset(read))
        try:
            for inputs, labels, valid in loaded:
                yield Chunk(self._device_fn(inputs), labels, valid)
        finally:
            loaded.close()

    def _load(self, rows: np.ndarray) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The inputs, labels and valid mask of `rows`, padded to a whole chunk, on the mesh."""
        valid = np.arange(self.chunk) < len(rows)
        rows = np.concatenate([rows, np.zeros(self.chunk - len(rows), rows.dtype)])
        return self._put(rows), self._put_host(self.labels[rows]), self._put_host(valid)

    def gather(self):
        """Every row's features on the host, `[n, D]` (or a pytree of them), in id order: the
        full materialisation, for features that fit."""
        parts = [jax.tree.map(_to_host, c.x) for c in self.chunks()]
        keep = self.n - (len(parts) - 1) * self.chunk
        parts[-1] = jax.tree.map(lambda a: a[:keep], parts[-1])
        return jax.tree.map(lambda *p: np.concatenate(p), *parts)

    def cached(self):
        """The same stream with its features computed once and held in host memory: an
        `array_stream` of `gather()` (a dict of them, by name, for a pytree of features)."""
        x = self.gather()
        if isinstance(x, dict):
            return {
                name: array_stream(v, self.labels, self.chunk, self.mesh) for name, v in x.items()
            }
        return array_stream(x, self.labels, self.chunk, self.mesh)

    def _put(self, rows: np.ndarray) -> jax.Array:
        """The inputs of `rows` split over the data axis; each process reads only the rows of
        its own devices."""
        return jax.make_array_from_callback(
            self._input.shape,
            batch_sharding(self.mesh),
            lambda index: np.asarray(self._read(rows[index[0]]), self._input.dtype),
        )

    def _put_host(self, values: np.ndarray) -> jax.Array:
        return jax.make_array_from_callback(
            values.shape, batch_sharding(self.mesh), lambda index: values[index]
        )


def _to_host(x: jax.Array) -> np.ndarray:
    """A (possibly multi-host) array in full on this host."""
    if x.is_fully_addressable:
        return np.asarray(x)
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def encoder_stream(encode_fn, variables, split, chunk: int, mesh: Mesh) -> FeatureStream:
    """The features `encode_fn(variables, images)` of every image of `split`, on the mesh."""
    variables = jax.device_put(variables, replicated(mesh))
    images = split.images
    return FeatureStream(
        lambda rows: images[rows],
        lambda x: encode_fn(variables, x),
        split.labels,
        tuple(images.shape[1:]),
        images.dtype,
        chunk,
        mesh,
    )


def pixel_stream(split, chunk: int, mesh: Mesh) -> FeatureStream:
    """Raw pixels of `split` in [0, 1], flattened (on the host, as the in-memory baseline
    always computed them): the raw-pixel baseline's features."""
    images = split.images
    dims = int(np.prod(images.shape[1:]))

    def read(rows):
        return np.asarray(images[rows], np.float32).reshape(len(rows), dims) / 255.0

    return FeatureStream(read, jnp.asarray, split.labels, (dims,), np.float32, chunk, mesh)


def array_stream(x: np.ndarray, labels: np.ndarray, chunk: int, mesh: Mesh) -> FeatureStream:
    """Features `x` `[n, D]` already in host memory, with their `labels`, served in chunks of
    `chunk` rows on `mesh`: the in-memory form of every protocol."""
    x = np.asarray(x, np.float32)
    return FeatureStream(
        lambda rows: x[rows], jnp.asarray, labels, x.shape[1:], np.float32, chunk, mesh
    )


def in_memory_form(top1: Callable) -> Callable:
    """A protocol's in-memory form: `top1(train, test, num_classes, **settings)` of two streams,
    made `top1_in_memory(train_x, train_y, test_x, test_y, num_classes, *, chunk=1024,
    **settings)` of host arrays `[n, D]` and their labels, served as `in_memory` streams."""

    def top1_in_memory(train_x, train_y, test_x, test_y, num_classes, *, chunk=1024, **settings):
        streams = in_memory(train_x, train_y, test_x, test_y, chunk)
        return top1(*streams, num_classes, **settings)

    top1_in_memory.__doc__ = f"`{top1.__module__}.top1` of features held in memory (arrays)."
    return top1_in_memory


def in_memory(train_x, train_y, test_x, test_y, chunk: int = 1024, mesh: Mesh | None = None):
    """Host arrays `[n, D]` and their labels as the `(train, test)` streams a protocol takes:
    `array_stream`s on `mesh` (default: every device), in chunks of `chunk` rows rounded up to
    a multiple of the device count."""
    mesh = make_mesh() if mesh is None else mesh
    chunk = chunk_size(chunk, mesh.devices.size)
    return array_stream(train_x, train_y, chunk, mesh), array_stream(test_x, test_y, chunk, mesh)


def dataset_streams(fn, variables, dataset, batch_size: int) -> tuple[FeatureStream, FeatureStream]:
    """The train and test splits' features under `fn(variables, images)`, as streams over every
    device in chunks of `batch_size` (rounded up to a multiple of the device count)."""
    mesh = make_mesh()
    chunk = chunk_size(batch_size, mesh.devices.size)
    train, test = (
        encoder_stream(fn, variables, s, chunk, mesh) for s in (dataset.train, dataset.test)
    )
    return train, test


def hold(streams, in_memory: bool):
    """`streams` (a tuple of them) with their features held in host memory where `in_memory`
    (`FeatureStream.cached`), else as they are."""
    return tuple(s.cached() for s in streams) if in_memory else tuple(streams)

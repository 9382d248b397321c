"""Where arrays live (`natjax.parallel.sharding`): one data axis over every device, batches
split along it, the state replicated, and batch sizes that must split evenly."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from natjax.errors import UserError
from natjax.parallel import sharding
from tests.helpers import python


def test_one_data_axis_over_every_device_and_the_batch_split_along_it():
    mesh = sharding.make_mesh()
    assert mesh.axis_names == (sharding.DATA_AXIS,) and mesh.devices.size == jax.device_count()
    assert sharding.batch_sharding(mesh).spec == PartitionSpec(sharding.DATA_AXIS)
    assert sharding.replicated(mesh).spec == PartitionSpec() == sharding.state_sharding(mesh).spec
    assert sharding.make_mesh(jax.devices()[:1]).devices.size == 1


def test_a_batch_goes_to_the_devices_and_a_replicated_tree_comes_back_to_the_host():
    mesh = sharding.make_mesh()
    assert sharding.process_rows(mesh, 8) == slice(0, 8)  # One process holds every row.
    batch = {"images": np.zeros((8, 2, 2, 1), np.uint8), "ids": np.arange(8, dtype=np.int32)}
    placed = sharding.put_batch(batch, mesh, 8)
    assert placed["images"].shape == (8, 2, 2, 1) and placed["ids"].sharding.spec == PartitionSpec(
        "data"
    )
    tree = jax.device_put({"w": np.ones(3)}, sharding.replicated(mesh))
    local = sharding.to_local(tree)
    assert isinstance(local["w"], np.ndarray) and local["w"].tolist() == [1.0, 1.0, 1.0]


def test_chunks_are_rounded_up_to_a_multiple_of_the_devices():
    assert sharding.chunk_size(1024, 1) == 1024
    assert sharding.chunk_size(1000, 8) == 1000 and sharding.chunk_size(1001, 8) == 1008
    assert sharding.chunk_size(3, 4) == 4


ON_FOUR_DEVICES = """
import numpy as np
from natjax.errors import UserError
from natjax.parallel import sharding
mesh = sharding.make_mesh()
try:
    sharding.check_batch_size(10, mesh)
except UserError as e:
    print(e)
sharding.check_batch_size(12, mesh)
batch = sharding.put_batch({"ids": np.arange(12)}, mesh, 12)
print([len(s.data) for s in batch["ids"].addressable_shards], sharding.process_rows(mesh, 12))
"""


def test_a_batch_must_split_evenly_over_the_devices():
    sharding.check_batch_size(7, sharding.make_mesh(jax.devices()[:1]))
    out = python(ON_FOUR_DEVICES, 4, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == [
        "batch_size=10 is not divisible by the 4 devices; set --config.batch_size to a "
        "multiple of 4.",
        "[3, 3, 3, 3] slice(0, 12, None)",
    ]


def test_the_batch_size_check_counts_the_meshs_devices():
    with pytest.raises(UserError, match="not divisible by the 2 devices"):
        sharding.check_batch_size(3, _FakeMesh(2))
    sharding.check_batch_size(4, _FakeMesh(2))


class _FakeMesh:
    def __init__(self, n):
        self.devices = np.empty(n, object)

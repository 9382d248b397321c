"""Where arrays live: one data-parallel mesh over all devices; the sharding rules in one place.

The batch is split along the `data` axis; the train state is replicated. (FSDP would change
`state_sharding` alone.)
"""

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from natjax.errors import UserError

DATA_AXIS = "data"


def make_mesh(devices=None) -> Mesh:
    """A 1-D mesh over `devices` (default: every device of every process)."""
    if devices is None:
        return jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(AxisType.Auto,))
    return Mesh(np.asarray(devices), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split along the `data` axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A whole copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def state_sharding(mesh: Mesh) -> NamedSharding:
    """The train state's: replicated (FSDP would change this alone)."""
    return replicated(mesh)


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """The global batch must split evenly over the devices."""
    devices = mesh.devices.size
    if batch_size % devices:
        raise UserError(
            f"batch_size={batch_size} is not divisible by the {devices} devices; set "
            f"--config.batch_size to a multiple of {devices}."
        )


def process_rows(mesh: Mesh, batch_size: int) -> slice:
    """The rows of a global batch that live on this process's devices (a contiguous block:
    each host reads and decodes only these)."""
    indices = batch_sharding(mesh).addressable_devices_indices_map((batch_size,)).values()
    starts = [i[0].start or 0 for i in indices]
    stops = [batch_size if i[0].stop is None else i[0].stop for i in indices]
    return slice(min(starts), max(stops))


def put_batch(batch: dict[str, np.ndarray], mesh: Mesh, batch_size: int) -> dict[str, jax.Array]:
    """A global batch of `batch_size` rows from this process's rows (`process_rows`), placed on
    its devices."""
    sharding = batch_sharding(mesh)
    return {
        k: jax.make_array_from_process_local_data(sharding, v, (batch_size, *v.shape[1:]))
        for k, v in batch.items()
    }


def to_local(tree):
    """A replicated (possibly multi-host) pytree as host numpy arrays, e.g. for evaluation,
    which every process runs on its own devices."""
    return jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), tree)


def chunk_size(batch_size: int, devices: int) -> int:
    """`batch_size` rounded up to a multiple of the device count: a batch that splits evenly."""
    return -(-batch_size // devices) * devices

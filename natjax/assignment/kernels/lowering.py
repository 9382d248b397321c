"""What every one-launch auction kernel needs to lower anywhere: outputs typed like the inputs
inside `shard_map`, and an abstract H100 to lower for on a machine without one."""

import jax
import jax.numpy as jnp


def varying_output(shape: tuple[int, ...], like: jax.Array) -> jax.ShapeDtypeStruct:
    """An int32 output that varies over shard_map's mesh axes as `like` does (JAX 0.10 names
    this type `manual_axis_type`; `vma` is the fallback for versions that call it that)."""
    aval = jax.typeof(like)
    if hasattr(aval, "mat"):
        return jax.ShapeDtypeStruct(shape, jnp.int32, manual_axis_type=aval.mat)
    if hasattr(aval, "vma"):
        return jax.ShapeDtypeStruct(shape, jnp.int32, vma=aval.vma)
    return jax.ShapeDtypeStruct(shape, jnp.int32)


def hopper_mesh(shape: tuple[int, ...] = (1,), names: tuple[str, ...] = ("data",)):
    """An abstract mesh of H100s: under `jax.sharding.use_abstract_mesh(hopper_mesh())` a
    kernel lowers for that GPU on a machine without one (JAX 0.11 asks the device which GPU it
    lowers for). Used by the tests and `python -m natjax.bench kernel`."""
    from jax.sharding import AbstractDevice, AbstractMesh, AxisType

    h100 = AbstractDevice(device_kind="NVIDIA H100 80GB HBM3", num_cores=132, platform="gpu")
    types = (AxisType.Explicit,) * len(shape)
    return AbstractMesh(shape, names, axis_types=types, abstract_device=h100)

"""Checksums of saved arrays (`natjax.checkpoints.checksums`): the same on any copy and any
sharding of the same bits, different after any one element changes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from natjax.checkpoints import checksums


def _tree():
    rng = np.random.default_rng(0)
    return {
        "params": {"w": jnp.asarray(rng.normal(size=(8, 5)), jnp.float32)},
        "half": jnp.asarray(rng.normal(size=7), jnp.bfloat16),
        "count": jnp.arange(6, dtype=jnp.int32),
        "bytes": jnp.asarray(rng.integers(0, 256, 9), jnp.uint8),
        "flags": jnp.asarray([True, False, True]),
        "rng": jax.random.PRNGKey(3),
        "key": jax.random.key(4),
    }


def _next(x):
    """The float after `x`: one bit of its mantissa changed."""
    return jnp.nextafter(x, jnp.inf)


def test_a_copy_has_the_same_checksums_and_each_array_its_own():
    tree = _tree()
    found = checksums.of(tree)
    assert found == checksums.of(jax.tree.map(lambda a: a.copy(), tree))
    assert set(found) == {"params.w", "half", "count", "bytes", "flags", "rng", "key"}
    assert all(len(v) == 16 for v in found.values())
    assert checksums.mismatch(tree, found) is None


@pytest.mark.parametrize(
    "name, change",
    [
        ("params.w", lambda t: t["params"]["w"].at[3, 2].set(_next(t["params"]["w"][3, 2]))),
        ("half", lambda t: t["half"].at[0].set(-t["half"][0])),
        ("count", lambda t: t["count"].at[5].add(1)),
        ("bytes", lambda t: t["bytes"].at[8].add(1)),
        ("flags", lambda t: t["flags"].at[1].set(True)),
        ("rng", lambda t: t["rng"].at[0].add(1)),
    ],
)
def test_one_changed_element_is_named(name, change):
    tree = _tree()
    saved = checksums.of(tree)
    parts = name.split(".")
    changed = jax.tree.map(lambda a: a, tree)
    holder = changed
    for part in parts[:-1]:
        holder = holder[part]
    holder[parts[-1]] = change(tree)
    assert checksums.mismatch(changed, saved) == f"{name} does not match the checksum saved with it"


def test_two_swapped_elements_change_the_checksum():
    a = jnp.arange(10, dtype=jnp.float32)
    b = a.at[2].set(a[7]).at[7].set(a[2])
    assert checksums.of({"a": a}) != checksums.of({"a": b})


def test_an_array_missing_or_added_is_a_mismatch():
    tree = _tree()
    saved = checksums.of(tree)
    del tree["count"]
    assert checksums.mismatch(tree, saved) == "count does not match the checksum saved with it"
    assert checksums.mismatch({**_tree(), "new": jnp.zeros(2)}, saved).startswith("new ")


def test_the_checksum_does_not_depend_on_the_sharding():
    devices = np.array(jax.devices())
    mesh = jax.sharding.Mesh(devices, ("data",))
    rows = 4 * len(devices)
    plain = jnp.arange(rows * 3, dtype=jnp.float32).reshape(rows, 3) / 7
    sharded = jax.device_put(plain, NamedSharding(mesh, PartitionSpec("data")))
    assert checksums.of({"x": sharded}) == checksums.of({"x": np.asarray(plain)})

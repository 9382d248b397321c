"""Checksums of saved arrays, so that flipped bytes never load silently.

Orbax writes no checksum of an array's content that restore verifies, so natjax keeps its
own: each array's bits as unsigned words, summed plain and weighted by odd positions, modulo
2^32 (a Fletcher-style pair). The sums are exact integer arithmetic, computed on the devices
where the arrays live (a pod's global arrays included), so a checkpoint saved on one mesh
verifies on any other. Any change of one word changes both sums; they are a guard against
damage, not against tampering.
"""

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp


def _words(x: jax.Array) -> jax.Array:
    """`x`'s bits, one uint32 word per element (narrower types widened, bools as bytes)."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.uint8)
    unsigned = jnp.dtype(f"uint{8 * x.dtype.itemsize}")
    return jax.lax.bitcast_convert_type(x, unsigned).astype(jnp.uint32).ravel()


def _sums(x: jax.Array) -> jax.Array:
    words = _words(jnp.asarray(x))
    odd = 2 * jnp.arange(words.size, dtype=jnp.uint32) + 1
    return jnp.stack([jnp.sum(words, dtype=jnp.uint32), jnp.sum(words * odd, dtype=jnp.uint32)])


@jax.jit
def _tree_sums(tree):
    return jax.tree.map(_sums, tree)


def of(tree) -> dict[str, str]:
    """Each array of `tree` by its dotted path: its checksum as 16 hex digits."""
    flat = ocp.tree.to_flat_dict(tree)
    sums = jax.device_get(_tree_sums(flat))
    return {".".join(map(str, path)): _hex(sums[path]) for path in flat}


def _hex(pair) -> str:
    first, second = (int(v) for v in np.asarray(pair, dtype=np.uint32))
    return f"{first:08x}{second:08x}"


def mismatch(tree, saved: dict[str, str]) -> str | None:
    """None if every array of `tree` has its `saved` checksum, else which do not (a phrase)."""
    found = of(tree)
    differ = sorted(k for k in found.keys() | saved.keys() if found.get(k) != saved.get(k))
    if not differ:
        return None
    if len(differ) == 1:
        return f"{differ[0]} does not match the checksum saved with it"
    return f"{differ[0]} and {len(differ) - 1} more do not match the checksums saved with them"

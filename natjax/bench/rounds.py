"""`python -m natjax.bench rounds`: every one-launch kernel of `natjax.assignment.kernels`
against the XLA block kernel with the same bidders, on NAT's scores at initialisation: the
rounds each takes and whether they give the same assignment. The kernels run in their
interpret modes here (on a CPU), so the rounds are what a GPU or TPU would take; the seconds
are the interpreter's, not the hardware's.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from natjax.assignment import kernels
from natjax.assignment.auction import SCALING, _xla_auction, starting_point
from natjax.assignment.kernels import mosaic_gpu, pallas_tpu, triton
from natjax.bench import scores as families
from natjax.bench.timing import load_config

SIZES = (64, 256, 512, 1024)
# Each kernel's bidders at `b`: its own default, which the XLA block kernel then uses too.
BIDDERS = {
    "triton": triton.default_bidders,
    "mosaic_gpu": lambda b: mosaic_gpu.BIDDERS,
    "pallas_tpu": pallas_tpu.default_bidders,
}


def compare(name: str, scores: np.ndarray) -> dict:
    """Kernel `name` and the XLA block kernel with its bidders on one problem: their rounds,
    whether their assignments are equal, and the kernel's (interpreted) seconds."""
    b = len(scores)
    k = min(b, BIDDERS[name](b))
    options = {"scaling": SCALING, "max_rounds": 1024 * b + 10000}
    inputs = starting_point(jnp.asarray(scores, jnp.float32))
    xla = jax.jit(functools.partial(_xla_auction, bidders=k, rounds_per_check=1, **options))(
        *inputs
    )
    start = time.perf_counter()
    fused = jax.block_until_ready(kernels.KERNELS[name](*inputs, bidders=k, **options))
    return {
        "kernel": name,
        "b": b,
        "bidders": k,
        "rounds": int(fused[1]),
        "xla_rounds": int(xla[1]),
        "same_assignment": bool(np.array_equal(fused[0], xla[0])),
        "complete": bool(fused[2]),
        "interpreted_seconds": time.perf_counter() - start,
    }


def run(sizes=SIZES, names=tuple(kernels.KERNELS), preset: str = "default") -> list[dict]:
    """A row per kernel and size it takes, on `nat_init` scores of `preset`'s encoder."""
    source = families.init_source(load_config(preset))
    rows = []
    for b in sizes:
        scores = source.scores(b, seed=b)
        for name in names:
            if kernels.fits(name, b):
                rows.append({"scores": "nat_init", **compare(name, scores)})
                print(f"# done: {name} b={b}", flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    head = "scores | b | kernel | bidders | rounds | XLA block kernel's rounds | same assignment"
    lines = [head + " | interpreted s", "---|" * 7 + "---"]
    for r in rows:
        same = "yes" if r["same_assignment"] and r["complete"] else "NO"
        lines.append(
            f"{r['scores']} | {r['b']} | {r['kernel']} | {r['bidders']} | {r['rounds']:,} | "
            f"{r['xla_rounds']:,} | {same} | {r['interpreted_seconds']:.1f}"
        )
    return "\n".join(lines)

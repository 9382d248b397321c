"""`python -m natjax.bench kernel`: the fused auction kernel compiled for a Hopper GPU (sm_90a)
on a machine without one: registers per thread, stack bytes (where registers spill), local and
shared memory, for each size and a few choices of bidders and warps around the defaults.

Pallas lowers the kernel to Triton IR with jaxlib alone. Compiling that IR needs the `triton`
package (`pip install triton`, not a dependency of natjax), which brings its own ptxas and
cuobjdump. On a GPU, XLA compiles the same IR with its own copy of Triton, so these figures
guide the defaults (`triton.default_bidders`, `triton.default_warps`); speed is measured on a
GPU (`launch/gpu_assignment.sh`).
"""

import functools
import os
import re
import subprocess
import tempfile

import jax
import jax.numpy as jnp

from natjax.assignment.kernels import lowering, triton

SIZES = (256, 1024, 4096)


def triton_ir(b: int, bidders: int, warps: int) -> str:
    """The kernel's Triton IR (MLIR text) for a `[b, b]` problem, as Pallas lowers it for CUDA."""
    from jax._src.lib import triton as jaxlib_triton
    from jax._src.lib.mlir import ir

    solve = functools.partial(
        triton.triton_auction, scaling=8, max_rounds=1 << 20, bidders=bidders, num_warps=warps
    )
    shapes = [jax.ShapeDtypeStruct(s, jnp.int32) for s in ((b, b), (b,), ())]
    solve = functools.partial(solve, interpret=False)
    with jax.sharding.use_abstract_mesh(lowering.hopper_mesh()):
        lowered = jax.jit(solve).trace(*shapes).lower(lowering_platforms=("cuda",))
    config = _triton_call(lowered.compiler_ir("stablehlo")).attributes["mhlo.backend_config"]
    with ir.Context() as context:
        jaxlib_triton.dialect.register_dialect(context)
        module = ir.Module.parse(bytes(ir.StringAttr(config["ir"]).value_bytes))
        return module.operation.get_asm(enable_debug_info=False)


def _triton_call(module):
    """The module's (first) Triton custom call."""
    pending = list(module.body.operations)
    while pending:
        op = pending.pop()
        if op.operation.name == "stablehlo.custom_call":
            return op
        pending += [o for region in op.regions for block in region.blocks for o in block]
    raise ValueError("no Triton custom call in the lowered module")


def resources(ir_text: str, warps: int) -> dict:
    """REG, STACK, SHARED and LOCAL of the kernel compiled by Triton for sm_90a."""
    import triton
    from triton.backends.compiler import GPUTarget

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "natjax_auction.ttir")
        with open(path, "w") as f:
            f.write(ir_text)
        # An integer kernel: no floating-point fusion to choose (set, so Triton does not warn).
        options = {"num_warps": warps, "num_stages": 1, "enable_fp_fusion": False}
        cubin = triton.compile(path, target=GPUTarget("cuda", 90, 32), options=options).asm
        with open(path + ".cubin", "wb") as f:
            f.write(cubin["cubin"])
        tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
        report = subprocess.run(
            [os.path.join(tool, "cuobjdump"), "-res-usage", path + ".cubin"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return {k: int(v) for k, v in re.findall(r"\b(REG|STACK|SHARED|LOCAL):(\d+)", report)}


def default_config(b: int) -> tuple[int, int]:
    """The fused kernel's (bidders, warps) for `b`."""
    k = triton.default_bidders(b)
    return k, triton.default_warps(triton.padded_size(b), k)


def configs(b: int) -> list[tuple[int, int]]:
    """(bidders, warps): the defaults, and half and twice each."""
    n = triton.padded_size(b)
    k, w = default_config(b)
    pairs = {(k, w), (k, min(32, 2 * w)), (k, max(4, w // 2)), (2 * k, w), (max(1, k // 2), w)}
    return sorted(p for p in pairs if p[0] <= n)


def run(sizes=SIZES) -> list[dict]:
    rows = []
    for b in sizes:
        for bidders, warps in configs(b):
            row = {"b": b, "bidders": bidders, "warps": warps}
            row["default"] = (bidders, warps) == default_config(b)
            row.update(resources(triton_ir(b, bidders, warps), warps))
            rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    head = "b | bidders | warps | registers | stack (spills) B | local B | shared B"
    lines = [head, "---|" * 6 + "---"]
    for r in rows:
        mark = " (default)" if r["default"] else ""
        lines.append(
            f"{r['b']} | {r['bidders']}{mark} | {r['warps']} | {r.get('REG')} | "
            f"{r.get('STACK')} | {r.get('LOCAL')} | {r.get('SHARED')}"
        )
    return "\n".join(lines)

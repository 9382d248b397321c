"""`python -m natjax.bench scaling`: the NAT step over 1, 2, 4, ... devices, and the share of
the step spent in the re-assignment, global (one problem over all devices) or local.

On a CPU the devices are simulated (the command sets `--xla_force_host_platform_device_count=8`
before JAX starts), so they share the machine's cores: the images/s show the harness and the
assignment's share, not a speed-up. Encoders: the small convnet at 28 px on CPU, ResNet-18 at
32 px on accelerators.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from natjax.bench.step import _config, nat_config, nat_step, optimizer
from natjax.bench.timing import median_seconds
from natjax.models import create_model
from natjax.objectives import create_train_state
from natjax.objectives.nat import reassign_on_mesh
from natjax.parallel import sharding

SIMULATED_DEVICES = 8


def _case() -> tuple[str, int, int, tuple[int, ...]]:
    """(encoder, image size, channels, global batches) for the default backend."""
    if jax.default_backend() == "cpu":
        return "small_convnet", 28, 1, (256,)
    return "resnet18", 32, 3, (256, 1024, 4096)


def _device_counts() -> list[int]:
    n = jax.device_count()
    return [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k <= n]


def bench_case(devices: int, b: int, repeats: int) -> dict:
    encoder, size, channels, _ = _case()
    mesh = sharding.make_mesh(jax.devices()[:devices])
    config = _config(encoder)
    model, tx = create_model(config), optimizer(config)
    rng = np.random.default_rng(0)
    batch = sharding.put_batch(
        {
            "images": rng.integers(0, 255, (b, size, size, channels), dtype=np.uint8),
            "ids": np.arange(b, dtype=np.int32),
        },
        mesh,
        b,
    )
    replicated = sharding.state_sharding(mesh)
    fns = {}
    for name, every, scope in (
        ("none", 0, "global"),
        ("global", 1, "global"),
        ("local", 1, "local"),
    ):
        fn = nat_step(nat_config(config, every, scope), model, tx, size, mesh)
        step = jax.jit(fn, donate_argnums=0, out_shardings=(replicated, replicated))
        holder = {
            "state": jax.device_put(
                create_train_state(model, tx, 0, b, batch["images"].shape[1:]), replicated
            )
        }

        def run(step=step, holder=holder):
            holder["state"], metrics = step(holder["state"], batch)
            return metrics

        fns[name] = run
    # The re-assignment alone, on unit features and targets split like the batch.
    z, c = jax.random.normal(jax.random.key(0), (2, b, config.model.target_dim))
    z, c = (
        jax.device_put(v / jnp.linalg.norm(v, axis=1, keepdims=True), sharding.batch_sharding(mesh))
        for v in (z, c)
    )
    for scope in ("global", "local"):
        solve = jax.jit(
            functools.partial(reassign_on_mesh, solver=config.nat.solver, mesh=mesh, scope=scope)
        )
        fns[f"assign_{scope}"] = functools.partial(solve, z, c)
    seconds = median_seconds(fns, repeats)
    return {
        "encoder": encoder,
        "devices": devices,
        "batch": b,
        "images_per_second": {k: b / seconds[k] for k in ("none", "global", "local")},
        "assignment_share": {
            s: seconds[f"assign_{s}"] / seconds["none"] for s in ("global", "local")
        },
    }


def run(batches=None, repeats: int = 5) -> list[dict]:
    batches = batches or _case()[3]
    return [bench_case(d, b, repeats) for b in batches for d in _device_counts() if b % d == 0]


def format_table(rows: list[dict]) -> str:
    head = "encoder | devices | global batch | no re-assign img/s | global img/s | local img/s"
    lines = [head + " | global assign share | local assign share", "---|" * 7 + "---"]
    for r in rows:
        ips, share = r["images_per_second"], r["assignment_share"]
        lines.append(
            f"{r['encoder']} | {r['devices']} | {r['batch']} | {ips['none']:.0f} | "
            f"{ips['global']:.0f} | {ips['local']:.0f} | {share['global'] * 100:.1f}% | "
            f"{share['local'] * 100:.1f}%"
        )
    return "\n".join(lines)

"""`python -m natjax.bench step`: images/s of NAT's step with and without re-assignment, and of
a supervised cross-entropy step, on the same encoder, input size and batch.

Each variant keeps its own (donated) state; the variants run alternately, and the medians
after compilation are reported. The re-assignment variant re-assigns on every step.

On a shared machine the steps' times vary by several percent from run to run, more than the
re-assignment costs; so the re-assignment is also timed on its own (`reassign` jitted alone,
on the features and targets of the re-assigning variant's state after the timed steps) and
reported as a share of the step without it.

On an accelerator the GPU cases (AlexNet and ResNet-50 at 224 px, batch 256 and 1024) run
too, with the model FLOPs utilisation: 3 x the forward pass's FLOPs (XLA's count) per image,
times images/s, over the chip's dense bfloat16 peak (`peak_flops`). A case that does not fit
in the accelerator's memory is reported as such and the others still run. `--profile DIR`
also writes a `jax.profiler` trace of a few steps of each variant per case.
"""

import functools
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from natjax.bench.timing import load_config, median_seconds
from natjax.loss import l2_normalize
from natjax.models import create_model
from natjax.state import create_train_state
from natjax.step import (
    StepConfig,
    apply_train,
    augment,
    reassign,
    supervised_step,
    train_step,
)
from natjax.targets import targets

# (encoder, image size, channels, batch)
CPU_CASES = (("small_convnet", 28, 1, 256), ("resnet18", 32, 3, 256))
GPU_CASES = tuple((e, 224, 3, b) for e in ("alexnet_bn", "resnet50") for b in (256, 1024))
PRESETS = {  # The configs/nat.py preset each encoder is benchmarked with.
    "small_convnet": "default",
    "resnet18": "cifar10",
    "alexnet_bn": "imagenet",
    "resnet50": "imagenet",
}
# Dense bfloat16 peak FLOP/s per chip, from the vendors' datasheets; the first match of
# `device_kind` wins (so "H100 PCIe" comes before "H100").
PEAK_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("A100", 312e12),
    ("TPU v4", 275e12),
    ("TPU v5 lite", 197e12),
    ("TPU v5e", 197e12),
    ("TPU v5", 459e12),
    ("TPU v6", 918e12),
)


def peak_flops(device_kind: str) -> float | None:
    """The chip's dense bfloat16 peak FLOP/s, or None where it is not in PEAK_FLOPS."""
    return next((peak for name, peak in PEAK_FLOPS if name in device_kind), None)


def cases(backend: str) -> tuple:
    """The CPU cases, and the GPU ones on an accelerator."""
    return CPU_CASES + (GPU_CASES if backend != "cpu" else ())


def _config(encoder: str, dtype: str = "float32") -> ml_collections.ConfigDict:
    config = load_config(PRESETS[encoder])
    config.model.encoder = encoder
    config.model.dtype = dtype
    if encoder == "resnet50":
        config.model.cifar_stem = False  # 224 px: the ImageNet stem.
    return config


def forward_flops(model, state, images: jax.Array) -> float:
    """XLA's count of the FLOPs of one forward pass of `model` on `images` (train mode)."""
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    apply = functools.partial(model.apply, train=True, mutable=["batch_stats"])
    cost = jax.jit(apply).lower(variables, images).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost  # A list in older JAX versions.
    return float(cost.get("flops", 0.0))


def profile(fns: dict, logdir: str, steps: int = 3) -> None:
    """A `jax.profiler` trace of `steps` steps of each variant, written under `logdir`."""
    with jax.profiler.trace(logdir):
        for name, fn in fns.items():
            for _ in range(steps):
                with jax.profiler.TraceAnnotation(name):
                    jax.block_until_ready(fn())


def step_config(config, size: int, every: int, scope: str = "global") -> StepConfig:
    """The step's settings for a benchmark: one epoch per step, re-assigning every `every`."""
    return StepConfig(
        steps_per_epoch=1,
        reassign_every=every,
        solver=config.nat.solver,
        target_seed=0,
        target_dim=config.model.target_dim,
        crop_size=size,
        crop_padding=config.input.crop_padding,
        flip=True,
        scope=scope,
    )


def _time_reassign_alone(state, batch, model, cfg: StepConfig, repeats: int) -> float:
    """Median seconds of the step's re-assignment alone, on `state`'s features and targets."""
    proj, _ = apply_train(model, state, state.params, augment(state, batch, cfg))
    z = l2_normalize(proj)
    c = targets(cfg.target_seed, state.perm[batch["ids"]], cfg.target_dim)
    solve = jax.jit(functools.partial(reassign, solver=cfg.solver))
    return median_seconds({"reassign": functools.partial(solve, z, c)}, repeats)["reassign"]


def _runner(step_fn, state, batch):
    """A zero-argument callable that advances its own state by one step."""
    holder = {"state": state}

    def run():
        holder["state"], metrics = step_fn(holder["state"], batch)
        return metrics

    run.holder = holder
    return run


def _variants(config, images: np.ndarray, batch: dict) -> tuple[dict, tuple]:
    """The three variants' runners, and (model, step config, state holder) of the re-assigning
    one."""
    size, channels = images.shape[1], images.shape[-1]
    tx = optax.sgd(0.01, momentum=0.9)
    fns = {}
    for name, every in (("nat_reassign", 1), ("nat_no_reassign", 0)):
        model = create_model(config)
        cfg = step_config(config, size, every)
        step = jax.jit(functools.partial(train_step, model=model, tx=tx, cfg=cfg), donate_argnums=0)
        state = create_train_state(model, tx, 0, len(images), (size, size, channels))
        fns[name] = _runner(step, state, batch)
        if every:
            reassigning = (model, cfg, fns[name].holder)
    config.model.target_dim = 10
    model = create_model(config)
    cfg = step_config(config, size, 0)  # The same random crops and flips as NAT's steps.
    step = functools.partial(supervised_step, model=model, tx=tx, cfg=cfg)
    step = jax.jit(step, donate_argnums=0)
    state = create_train_state(model, tx, 0, len(images), images.shape[1:])
    fns["supervised"] = _runner(step, state, batch)
    return fns, reassigning


def bench_case(
    encoder: str,
    size: int,
    channels: int,
    b: int,
    repeats: int,
    dtype: str = "float32",
    profile_dir: str | None = None,
) -> dict:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (b, size, size, channels), dtype=np.uint8)
    batch = {
        "images": jnp.asarray(images),
        "ids": jnp.arange(b, dtype=jnp.int32),
        "labels": jnp.asarray(rng.integers(0, 10, b), jnp.int32),
    }
    fns, (model, cfg, holder) = _variants(_config(encoder, dtype), images, batch)
    seconds = median_seconds(fns, repeats)
    alone = _time_reassign_alone(holder["state"], batch, model, cfg, repeats)
    flops = forward_flops(model, holder["state"], batch["images"]) / b
    if profile_dir:
        profile(fns, os.path.join(profile_dir, f"{encoder}_{size}px_b{b}_{dtype}"))
    ips = {name: b / s for name, s in seconds.items()}
    peak = peak_flops(jax.devices()[0].device_kind)
    return {
        "encoder": encoder,
        "dtype": dtype,
        "image_size": size,
        "batch": b,
        "images_per_second": ips,
        "reassign_overhead": seconds["nat_reassign"] / seconds["nat_no_reassign"] - 1,
        "reassign_alone_ms": alone * 1e3,
        "reassign_share": alone / seconds["nat_no_reassign"],
        "nat_vs_supervised": ips["nat_reassign"] / ips["supervised"],
        "forward_gflops_per_image": flops / 1e9,
        # Training counted as 3 forward passes (the backward pass costs about two).
        "mfu": 3 * flops * ips["nat_reassign"] / peak if peak else None,
    }


def _out_of_memory(error: Exception) -> bool:
    return "RESOURCE_EXHAUSTED" in str(error) or "out of memory" in str(error).lower()


def run(
    encoders=None, repeats: int = 20, dtype: str = "float32", profile_dir: str | None = None
) -> list[dict]:
    rows = []
    for encoder, size, channels, b in cases(jax.default_backend()):
        if encoders is not None and encoder not in encoders:
            continue
        try:
            rows.append(bench_case(encoder, size, channels, b, repeats, dtype, profile_dir))
        except jax.errors.JaxRuntimeError as error:
            if not _out_of_memory(error):
                raise
            rows.append({"encoder": encoder, "dtype": dtype, "image_size": size, "batch": b})
            rows[-1]["error"] = "out of memory"
    return rows


def format_table(rows: list[dict]) -> str:
    head = "encoder | dtype | px | batch | supervised img/s | NAT no re-assign img/s"
    head += " | NAT re-assign img/s | re-assign overhead | re-assign alone | its share"
    head += " | NAT / supervised | forward GFLOP/img | MFU (NAT, of bf16 peak)"
    lines = [head, "---|" * 12 + "---"]
    for r in rows:
        case = f"{r['encoder']} | {r['dtype']} | {r['image_size']} | {r['batch']}"
        if "error" in r:
            lines.append(f"{case} | {r['error']}" + " | –" * 8)
            continue
        ips = r["images_per_second"]
        mfu = f"{r['mfu'] * 100:.1f}%" if r["mfu"] is not None else "–"
        lines.append(
            f"{case} | {ips['supervised']:.0f} | "
            f"{ips['nat_no_reassign']:.0f} | {ips['nat_reassign']:.0f} | "
            f"{r['reassign_overhead'] * 100:+.1f}% | {r['reassign_alone_ms']:.1f} ms | "
            f"{r['reassign_share'] * 100:.1f}% | {r['nat_vs_supervised']:.3f} | "
            f"{r['forward_gflops_per_image']:.3g} | {mfu}"
        )
    return "\n".join(lines)

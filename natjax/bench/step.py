"""`python -m natjax.bench step`: images/s of NAT's step with and without re-assignment, and of
a supervised cross-entropy step, on the same encoder, input size and batch.

Each variant keeps its own (donated) state; the variants run alternately, and the medians
after compilation are reported. The re-assignment variant re-assigns on every step.

On a shared machine the steps' times vary by several percent from run to run, more than the
re-assignment costs; so the re-assignment is also timed on its own (`reassign` jitted alone,
on the features and targets of the re-assigning variant's state after the timed steps) and
reported as a share of the step without it.

Each program is compiled ahead of the timed steps, and its compile time is reported apart
(`compile_seconds`). Progress and each case's row go to stderr as soon as they are known.

Every row has the forward pass's FLOPs per image, counted from the model's jaxpr
(`natjax.bench.flops`: the same figure on every backend). On an accelerator the GPU cases
(AlexNet at 224 px, batch 256 and 1024; ResNet-50 at 224 px, batch 256) run too, with the model
FLOPs utilisation: 3 x the forward FLOPs per image, times images/s, over the chip's dense
bfloat16 peak (`peak_flops`). A case that does not fit in the accelerator's memory is reported
as such and the others still run. `--profile DIR` also writes a `jax.profiler` trace of a few
steps of each variant per case.
"""

import functools
import os
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from natjax import objectives
from natjax.bench.flops import image_flops
from natjax.bench.timing import load_config, median_seconds
from natjax.models import create_model
from natjax.models.layers import l2_normalize
from natjax.objectives import Objective, StepConfig, create_train_state, nat, objective_step
from natjax.objectives.step import apply_train
from natjax.training.optim import create_optimizer
from natjax.training.run import head_dim, head_widths
from natjax.training.run import step_config as run_step_config
from natjax.views import view

# The objectives timed beside NAT's steps, on the shared step; rows and ratios in views/s.
OBJECTIVES = (
    "supervised",
    "simclr",
    "rotation",
    "instdisc",
    "simsiam",
    "byol",
    "moco",
    "swav",
    "deepcluster",
)
# (encoder, image size, channels, batch)
CPU_CASES = (("small_convnet", 28, 1, 256), ("resnet18", 32, 3, 256))
# ResNet-50 at batch 256 only (1024 with `--batch`): the batch of the paper and of torchvision's
# recipe, and in float32 a batch of 1024 needs about 4 x the activation memory of 256, near or
# past an 80 GB GPU's, and doubles the case's compile and run time.
GPU_CASES = (
    ("alexnet_bn", 224, 3, 256),
    ("alexnet_bn", 224, 3, 1024),
    ("resnet50", 224, 3, 256),
)
PRESETS = {  # The configs/nat.py preset each encoder is benchmarked with.
    "small_convnet": "default",
    "resnet18": "cifar10",
    "alexnet_bn": "imagenet",
    "resnet50": "imagenet",
}
# The training-set size of each preset's dataset: the objectives' per-image states (InstDisc's
# memory bank, DeepCluster's labels) are made for it, so their steps cost what training's do.
TRAIN_EXAMPLES = {"fashion_mnist": 60_000, "cifar10": 50_000, "imagenet2012": 1_281_167}
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


def cases(backend: str, batches: tuple[int, ...] | None = None) -> tuple:
    """The CPU cases, and the GPU ones on an accelerator; each encoder at `batches` if given."""
    default = CPU_CASES + (GPU_CASES if backend != "cpu" else ())
    if batches is None:
        return default
    inputs = dict.fromkeys(case[:3] for case in default)  # (encoder, size, channels), in order.
    return tuple((*case, b) for case in inputs for b in batches)


def _config(encoder: str, dtype: str = "float32") -> ml_collections.ConfigDict:
    config = load_config(PRESETS[encoder])
    config.model.encoder = encoder
    config.model.dtype = dtype
    if encoder == "resnet50":
        config.model.cifar_stem = False  # 224 px: the ImageNet stem.
    return config


def progress(case: str):
    """A logger of `case`'s progress: each message on stderr, with the seconds since it began."""
    start = time.perf_counter()

    def log(message: str) -> None:
        print(
            f"[{time.perf_counter() - start:6.1f} s] {case}: {message}", file=sys.stderr, flush=True
        )

    return log


def compile_ahead(fn, *args) -> tuple:
    """`fn` (jitted) compiled for `args`, and the seconds its tracing, lowering and compiling
    took."""
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - start


def profile(fns: dict, logdir: str, steps: int = 3) -> None:
    """A `jax.profiler` trace of `steps` steps of each variant, written under `logdir`."""
    with jax.profiler.trace(logdir):
        for name, fn in fns.items():
            for _ in range(steps):
                with jax.profiler.TraceAnnotation(name):
                    jax.block_until_ready(fn())


def nat_config(config, every: int, scope: str = "global"):
    """`config` re-assigning every `every` epochs (one epoch per step here) over `scope`."""
    config = config.copy_and_resolve_references()
    config.nat.update(reassign_every=every, scope=scope)
    return config


def step_config(config, objective: Objective, size: int) -> StepConfig:
    """The step's settings as training makes them from `config` (`training.step_config`), for
    `size` px images, one epoch per step."""
    return run_step_config(config, objective, (size, size), steps_per_epoch=1)


def nat_step(config, model, tx, size: int, mesh=None):
    """NAT's step as training builds it from `config`, unjitted, for `size` px images."""
    objective = objectives.build(config)
    cfg = step_config(config, objective, size)
    return functools.partial(
        objective_step, model=model, tx=tx, cfg=cfg, objective=objective, mesh=mesh
    )


def optimizer(config) -> optax.GradientTransformation:
    """The run's optimizer as training makes it (its schedule's length does not matter here)."""
    return create_optimizer(config.optim, total_steps=SCHEDULE_STEPS)


SCHEDULE_STEPS = 1000


def _features_and_targets(state, batch, model, cfg: StepConfig, settings: nat.Settings) -> tuple:
    """The step's normalised features of `batch` and the targets its images hold."""
    x = view(jax.random.fold_in(state.rng, state.step), batch["images"], cfg)
    proj, _ = apply_train(model, state, state.params, x)
    owned = state.perm[batch["ids"]]
    return l2_normalize(proj), nat.targets(settings.target_seed, owned, settings.target_dim)


def _time_reassign_alone(state, batch, model, config, repeats: int) -> tuple:
    """Median seconds of the step's re-assignment alone, on `state`'s features and targets
    (NAT's settings from `config`); and the compile seconds of the features and of the
    re-assignment."""
    settings = nat.settings_of(config)
    cfg = step_config(config, objectives.build(config), batch["images"].shape[1])
    features = functools.partial(_features_and_targets, model=model, cfg=cfg, settings=settings)
    features, features_seconds = compile_ahead(jax.jit(features), state, batch)
    z, c = features(state, batch)
    solve = jax.jit(functools.partial(nat.reassign, solver=settings.solver))
    solve, solve_seconds = compile_ahead(solve, z, c)
    alone = median_seconds({"reassign": functools.partial(solve, z, c)}, repeats)["reassign"]
    return alone, {"features": features_seconds, "reassign": solve_seconds}


def _runner(step_fn, state, batch):
    """A zero-argument callable that advances its own state by one step."""
    holder = {"state": state}

    def run():
        holder["state"], metrics = step_fn(holder["state"], batch)
        return metrics

    run.holder = holder
    return run


def _initial_state(model, tx, images: np.ndarray, init_extra=None, num_examples=None) -> tuple:
    """The train state at step 0 for `images` (of a training set of `num_examples`, by default
    the images alone), from one jitted program (op by op, ResNet-50's initialisation took longer
    than that program's compilation on a CPU: 16 s against 10 s), and the seconds it took to
    compile and run."""
    start = time.perf_counter()
    shape, n = images.shape[1:], num_examples or len(images)
    init = functools.partial(create_train_state, model, tx, 0, n, shape, init_extra)
    state = jax.block_until_ready(jax.jit(init)())
    return state, time.perf_counter() - start


def _variants(config, images: np.ndarray, batch: dict, log, names) -> tuple[dict, dict, tuple]:
    """The runners (compiled) of NAT's two variants and of the objectives `names`; the seconds
    that compiling each took, and initialising the states (`init`); and (model, step config,
    state holder) of the re-assigning NAT variant."""
    size = images.shape[1]
    tx = optimizer(config)
    model = create_model(config)
    fns, seconds = {}, {}
    nat_state, seconds["init"] = _initial_state(model, tx, images)
    log(f"initialised the NAT model in {seconds['init']:.1f} s")
    for name, every in (("nat_reassign", 1), ("nat_no_reassign", 0)):
        step = jax.jit(nat_step(nat_config(config, every), model, tx, size), donate_argnums=0)
        state = jax.tree.map(jnp.copy, nat_state)  # Each variant donates its own copy.
        step, seconds[name] = compile_ahead(step, state, batch)
        fns[name] = _runner(step, state, batch)
        log(f"compiled {name} in {seconds[name]:.1f} s")
    reassigning = (model, nat_config(config, 1), fns["nat_reassign"].holder)
    for name in names:
        fns[name], seconds[name], init_seconds = _objective(config, name, images, batch, tx)
        seconds["init"] += init_seconds
        log(f"compiled {name} in {seconds[name]:.1f} s")
    return fns, seconds, reassigning


def _objective(config, name: str, images: np.ndarray, batch: dict, tx) -> tuple:
    """The runner of objective `name`'s step built as training builds it (its head, its views;
    NAT's random crops and flips where it draws the configured ones; its state made for the
    preset's whole training set, TRAIN_EXAMPLES), the seconds compiling it took, and the
    seconds its initial state took."""
    config = config.copy_and_resolve_references()
    config.objective = name
    objective = objectives.build(config)
    config.model.target_dim = head_dim(config, objective, num_classes=10)
    config.model.head_widths = head_widths(config, objective)
    model = create_model(config)
    cfg = step_config(config, objective, images.shape[1])
    fn = functools.partial(objective_step, model=model, tx=tx, cfg=cfg, objective=objective)
    n = TRAIN_EXAMPLES[config.data.name]
    state, init_seconds = _initial_state(model, tx, images, objective.init_extra, n)
    step, compile_seconds = compile_ahead(jax.jit(fn, donate_argnums=0), state, batch)
    return _runner(step, state, batch), compile_seconds, init_seconds


def bench_case(
    encoder: str,
    size: int,
    channels: int,
    b: int,
    repeats: int,
    dtype: str = "float32",
    profile_dir: str | None = None,
    names: tuple[str, ...] = OBJECTIVES,
) -> dict:
    """One case's row: the variants' images/s (NAT's two, and the objectives `names` with the
    supervised step always among them), the re-assignment's cost, the compile seconds of each
    program, the forward FLOPs per image and the MFU."""
    names = ("supervised", *(n for n in names if n != "supervised"))
    log = progress(f"{encoder} {size} px batch {b} {dtype}")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (b, size, size, channels), dtype=np.uint8)
    batch = {
        "images": jnp.asarray(images),
        "ids": jnp.arange(b, dtype=jnp.int32),
        "labels": jnp.asarray(rng.integers(0, 10, b), jnp.int32),
    }
    config = _config(encoder, dtype)
    fns, compile_seconds, (model, nat_cfg, holder) = _variants(config, images, batch, log, names)
    seconds = median_seconds(fns, repeats)
    log(f"timed {repeats} steps of each variant")
    alone, more_compile_seconds = _time_reassign_alone(
        holder["state"], batch, model, nat_cfg, repeats
    )
    compile_seconds.update(more_compile_seconds)
    flops = image_flops(model, (size, size, channels))
    if profile_dir:
        profile(fns, os.path.join(profile_dir, f"{encoder}_{size}px_b{b}_{dtype}"))
    ips = {name: b / s for name, s in seconds.items()}
    views = {name: _views_per_image(config, name) * b / seconds[name] for name in names}
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
        # Each objective's views (image crops) per second, over the supervised step's.
        "views_vs_supervised": {name: v / views["supervised"] for name, v in views.items()},
        # Per program: tracing, lowering and compiling it; `init`: the initial states' programs
        # compiled and run.
        "compile_seconds": compile_seconds,
        "forward_gflops_per_image": flops / 1e9,  # From the jaxpr: the same on every backend.
        # Training counted as 3 forward passes (the backward pass costs about two).
        "mfu": 3 * flops * ips["nat_reassign"] / peak if peak else None,
    }


def _views_per_image(config, name: str) -> int:
    config = config.copy_and_resolve_references()
    config.objective = name
    return objectives.build(config).num_views


def _out_of_memory(error: Exception) -> bool:
    return "RESOURCE_EXHAUSTED" in str(error) or "out of memory" in str(error).lower()


def run(
    encoders=None,
    repeats: int = 20,
    dtype: str = "float32",
    profile_dir: str | None = None,
    batches: tuple[int, ...] | None = None,
    report=None,
    names: tuple[str, ...] = OBJECTIVES,
) -> list[dict]:
    """Every case's row, each also printed on stderr when done; `report(rows)` after each.
    `names`: the objectives timed beside NAT's steps (the supervised one always is)."""
    rows = []
    for encoder, size, channels, b in cases(jax.default_backend(), batches):
        if encoders is not None and encoder not in encoders:
            continue
        try:
            row = bench_case(encoder, size, channels, b, repeats, dtype, profile_dir, names)
            rows.append(row)
        except jax.errors.JaxRuntimeError as error:
            if not _out_of_memory(error):
                raise
            rows.append({"encoder": encoder, "dtype": dtype, "image_size": size, "batch": b})
            rows[-1]["error"] = "out of memory"
        print(format_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        if report:
            report(rows)
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a Markdown table; compile time is the sum over the case's programs."""
    head = "encoder | dtype | px | batch | supervised img/s | NAT no re-assign img/s"
    head += " | NAT re-assign img/s | re-assign overhead | re-assign alone | its share"
    head += " | NAT / supervised | forward GFLOP/img | MFU (NAT, of bf16 peak) | compile s"
    head += f" | views/s over supervised: {', '.join(OBJECTIVES[1:])}"
    lines = [head, "---|" * 14 + "---"]
    for r in rows:
        case = f"{r['encoder']} | {r['dtype']} | {r['image_size']} | {r['batch']}"
        if "error" in r:
            lines.append(f"{case} | {r['error']}" + " | –" * 10)
            continue
        ips = r["images_per_second"]
        mfu = f"{r['mfu'] * 100:.1f}%" if r["mfu"] is not None else "–"
        ratios = r.get("views_vs_supervised", {})  # Absent from rows measured before them.
        others = ", ".join(f"{ratios[n]:.3f}" if n in ratios else "–" for n in OBJECTIVES[1:])
        lines.append(
            f"{case} | {ips['supervised']:.0f} | "
            f"{ips['nat_no_reassign']:.0f} | {ips['nat_reassign']:.0f} | "
            f"{r['reassign_overhead'] * 100:+.1f}% | {r['reassign_alone_ms']:.1f} ms | "
            f"{r['reassign_share'] * 100:.1f}% | {r['nat_vs_supervised']:.3f} | "
            f"{r['forward_gflops_per_image']:.3g} | {mfu} | "
            f"{sum(r['compile_seconds'].values()):.1f} | {others}"
        )
    return "\n".join(lines)

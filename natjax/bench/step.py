"""`python -m natjax.bench step`: images/s of NAT's step with and without re-assignment, and of
a supervised cross-entropy step, on the same encoder, input size and batch.

Each variant keeps its own (donated) state; the variants run alternately, and the medians
after compilation are reported. The re-assignment variant re-assigns on every step.

On a shared machine the steps' times vary by several percent from run to run, more than the
re-assignment costs; so the re-assignment is also timed on its own (`reassign` jitted alone,
on the features and targets of the re-assigning variant's state after the timed steps) and
reported as a share of the step without it.
"""

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from natjax import preprocess
from natjax.bench.timing import load_config, median_seconds
from natjax.loss import l2_normalize
from natjax.models import create_model
from natjax.state import create_train_state
from natjax.step import StepConfig, reassign, supervised_step, train_step
from natjax.targets import targets

# (encoder, image size, channels, batch)
CPU_CASES = (("small_convnet", 28, 1, 256), ("resnet18", 32, 3, 256))


def _config(encoder: str, dtype: str = "float32") -> ml_collections.ConfigDict:
    config = load_config("cifar10" if encoder == "resnet18" else "default")
    config.model.encoder = encoder
    config.model.dtype = dtype
    return config


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
    x = preprocess.random_crop_flip(
        jax.random.fold_in(state.rng, state.step), batch["images"], cfg.crop_size, 0, False
    )
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    (_, proj), _ = model.apply(variables, x, train=True, mutable=["batch_stats"])
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


def bench_case(
    encoder: str, size: int, channels: int, b: int, repeats: int, dtype: str = "float32"
) -> dict:
    config = _config(encoder, dtype)
    tx = optax.sgd(0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (b, size, size, channels), dtype=np.uint8)
    batch = {
        "images": jnp.asarray(images),
        "ids": jnp.arange(b, dtype=jnp.int32),
        "labels": jnp.asarray(rng.integers(0, 10, b), jnp.int32),
    }
    fns = {}
    for name, every in (("nat_reassign", 1), ("nat_no_reassign", 0)):
        model = create_model(config)
        cfg = step_config(config, size, every)
        step = jax.jit(functools.partial(train_step, model=model, tx=tx, cfg=cfg), donate_argnums=0)
        state = create_train_state(model, tx, 0, b, (size, size, channels))
        fns[name] = _runner(step, state, batch)
        if every:
            reassigning = (model, cfg, fns[name].holder)
    config.model.target_dim = 10
    model = create_model(config)
    cfg = step_config(config, size, 0)  # The same random crops and flips as NAT's steps.
    step = functools.partial(supervised_step, model=model, tx=tx, cfg=cfg)
    step = jax.jit(step, donate_argnums=0)
    fns["supervised"] = _runner(step, create_train_state(model, tx, 0, b, images.shape[1:]), batch)
    seconds = median_seconds(fns, repeats)
    model, cfg, holder = reassigning
    alone = _time_reassign_alone(holder["state"], batch, model, cfg, repeats)
    ips = {name: b / s for name, s in seconds.items()}
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
    }


def run(encoders=None, repeats: int = 20, dtype: str = "float32") -> list[dict]:
    cases = [c for c in CPU_CASES if encoders is None or c[0] in encoders]
    return [bench_case(*case, repeats=repeats, dtype=dtype) for case in cases]


def format_table(rows: list[dict]) -> str:
    head = "encoder | dtype | px | batch | supervised img/s | NAT no re-assign img/s"
    head += " | NAT re-assign img/s | re-assign overhead | re-assign alone | its share"
    head += " | NAT / supervised"
    lines = [head, "---|" * 10 + "---"]
    for r in rows:
        ips = r["images_per_second"]
        lines.append(
            f"{r['encoder']} | {r['dtype']} | {r['image_size']} | {r['batch']} | "
            f"{ips['supervised']:.0f} | "
            f"{ips['nat_no_reassign']:.0f} | {ips['nat_reassign']:.0f} | "
            f"{r['reassign_overhead'] * 100:+.1f}% | {r['reassign_alone_ms']:.1f} ms | "
            f"{r['reassign_share'] * 100:.1f}% | {r['nat_vs_supervised']:.3f}"
        )
    return "\n".join(lines)

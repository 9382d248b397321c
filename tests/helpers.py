"""What the tests share: tiny configs and datasets made on the fly (no dataset is committed), a
NAT step on toy images, the one-step run of an objective, and subprocesses on simulated
devices (`python`) or as a user runs the commands (`smoke_cmd`)."""

import functools
import gzip
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from natjax.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes `array` (uint8) as a gzipped IDX file."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def only_error(fn, capsys, caplog) -> str:
    """The UserError `fn()` raises, asserted to be one line with nothing printed or logged
    beside it, as a user reads it."""
    try:
        fn()
    except UserError as e:
        message = str(e)
    else:
        raise AssertionError(f"{fn} raised no UserError")
    out, err = capsys.readouterr()
    assert (out, err, caplog.text) == ("", "", ""), (out, err, caplog.text)
    assert "\n" not in message and message.endswith("."), message
    return message


def make_idx_dataset(directory: str, n_train: int = 96, n_test: int = 40, size: int = 12) -> str:
    """A learnable toy dataset in IDX form: each class is a bright square at its own place."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 4, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, size, size)).astype(np.uint8)
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 2)
            images[i, r * size // 2 : (r + 1) * size // 2, c * size // 2 : (c + 1) * size // 2] = (
                220
            )
        write_idx(os.path.join(directory, names[split][0]), images)
        write_idx(os.path.join(directory, names[split][1]), labels)
    return directory


def multilabel_dataset(n_train: int = 96, n_test: int = 48, size: int = 12):
    """A multi-label toy `Dataset`: each of 4 classes a bright quadrant, 1 to 3 per image."""
    from natjax.data import Dataset, Split

    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        labels = rng.integers(0, 2, (n, 4)).astype(np.int32)
        labels[labels.sum(1) == 0, rng.integers(0, 4)] = 1
        labels[labels.sum(1) == 4, 0] = 0
        images = rng.integers(0, 40, (n, size, size, 1)).astype(np.uint8)
        half = size // 2
        for i, c in zip(*np.nonzero(labels), strict=True):
            r, q = divmod(int(c), 2)
            images[i, r * half : (r + 1) * half, q * half : (q + 1) * half] = 220
        return Split(images, labels)

    return Dataset("quadrants", split(n_train), split(n_test), 4)


# The linear probe of the tiny runs: 96 training images make one chunk of 4 minibatches, so
# 50 epochs are 200 Adam steps (the default 5 epochs, 20 steps, stop short of a fit).
TINY_LINEAR_PROBE = {"epochs": 50, "batch_size": 256, "learning_rate": 1e-2, "l2": 1e-4}


def tiny_config(directory: str):
    """The smoke preset shrunk to a toy IDX dataset and a 2-stage convnet: seconds on CPU."""
    from configs.nat import get_config

    config = get_config("smoke")
    config.data.source = "idx:" + make_idx_dataset(os.path.join(directory, "idx"))
    config.data.update(max_train_examples=0, max_test_examples=0, image_size=12)
    config.update(batch_size=16, num_epochs=3, progress_bar=False)
    config.model.update(widths=(8, 16), target_dim=8)
    config.eval.knn_k = 10
    config.eval.linear.update(TINY_LINEAR_PROBE)
    return config


class TinyRun(NamedTuple):
    """A finished tiny run (the `tiny_run` fixture): its config, workdir and summary."""

    config: object
    workdir: str
    summary: dict


def copy_run(run: TinyRun, tmp_path) -> tuple[str, list[str]]:
    """A copy of `run`'s workdir to change, and the entries of its `checkpoints/`."""
    copy = str(tmp_path / "copy")
    shutil.copytree(run.workdir, copy)
    return copy, sorted(os.listdir(os.path.join(copy, "checkpoints")))


# A NAT step on toy images: 8 x 8 grayscale, a one-stage convnet, SGD with momentum.
IMAGE_SHAPE = (8, 8, 1)
TX = optax.sgd(0.1, momentum=0.9)


def toy_model(dim: int = 4):
    from natjax.models import NATModel, SmallConvNet

    return NATModel(SmallConvNet((4,)), target_dim=dim)


def objective_config(name: str = "nat", dim: int = 4, **changes):
    """The smoke preset training objective `name` with targets of `dim` and `changes` (dotted
    keys)."""
    from configs.nat import get_config

    config = get_config("smoke")
    config.objective = name
    config.model.target_dim = dim
    config.update_from_flattened_dict(changes)
    return config


def nat_objective(reassign_every: int, solver: str = "auction", dim: int = 4, **changes):
    """NAT's Objective as a run builds it (`objectives.build`), with its settings bound."""
    from natjax import objectives

    config = objective_config(
        "nat", dim, **{"nat.reassign_every": reassign_every, "nat.solver": solver, **changes}
    )
    return objectives.build(config)


def make(n, b, reassign_every=0, solver="auction", *, objective=None, dim=4, **settings):
    """The state at step 0, the jitted step (state donated) and `n` random toy images; the step
    is NAT's (re-assigning every `reassign_every` epochs with `solver`) unless `objective`.
    `settings` are the StepConfig's view settings (crop_padding, flip, views)."""
    from natjax.objectives import StepConfig, create_train_state, objective_step

    objective = objective or nat_objective(reassign_every, solver, dim)
    model = toy_model(dim)
    settings = {"crop_padding": 1, "flip": True, **settings}
    cfg = StepConfig(steps_per_epoch=n // b, crop_size=8, **settings)
    state = create_train_state(model, TX, 0, n, IMAGE_SHAPE, objective.init_extra)
    fn = functools.partial(objective_step, model=model, tx=TX, cfg=cfg, objective=objective)
    step = jax.jit(fn, donate_argnums=0)
    images = np.random.default_rng(0).integers(0, 255, (n, *IMAGE_SHAPE)).astype(np.uint8)
    return state, step, images


def epoch_batches(n, b, epochs, images):
    """The run's batches of `images` in its epoch order (seed 0)."""
    from natjax.data import epoch_ids

    for epoch in range(epochs):
        for ids in epoch_ids(n, b, 0, epoch):
            yield {"images": images[ids], "ids": ids}


def is_permutation(perm, n) -> bool:
    return np.array_equal(np.sort(np.asarray(perm)), np.arange(n))


def first_step(tmp_path, name: str, at_step: int = 0, **changes):
    """The tiny run of objective `name` (with `changes`, dotted keys): its config, its initial
    state on the host (its step count set to `at_step`), and its state after one step."""
    from natjax import checkpoints, training
    from natjax.parallel import sharding

    config = tiny_config(str(tmp_path))
    config.objective = name
    config.update_from_flattened_dict(changes)
    run = training.setup(config, str(tmp_path / "run"))
    state = training.initial_state(run, checkpoints.create_manager(str(tmp_path / "run")))
    state = state.replace(step=jnp.full_like(state.step, at_step))
    before = jax.tree.map(np.asarray, jax.device_get(state))  # The step donates `state`.
    batch = sharding.put_batch(next(training.batches(run, 0)), run.mesh, config.batch_size)
    return config, before, training.compile_step(run)(state, batch)[0]


def python(code_or_args, devices: int, timeout: int = 900):
    """`python -c CODE` (or `python ARGS`) in the repository on `devices` simulated CPU
    devices."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    cmd = [sys.executable, *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def last_json(out) -> dict:
    """The JSON object on the last line a subprocess printed."""
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def smoke_cmd(workdir) -> list[str]:
    """The smoke preset's training command, as a user runs it."""
    return [
        sys.executable,
        "-m",
        "natjax.main",
        "--config=configs/nat.py:smoke",
        f"--workdir={workdir}",
        "--config.progress_bar=False",
        "--config.eval.baselines=False",
    ]


PREEMPT_FLAGS = (  # Logs every step (so every step run shows), saves at epoch ends only.
    "--config.log_every_steps=1",
    "--config.checkpoint.every_steps=0",
    "--config.eval.monitor_every_epochs=0",
)


def preempt_config():
    """The smoke preset as `smoke_cmd` and `PREEMPT_FLAGS` set it."""
    from configs.nat import get_config

    config = get_config("smoke")
    config.update(progress_bar=False, log_every_steps=1)
    config.checkpoint.every_steps = 0
    config.eval.update(baselines=False, monitor_every_epochs=0)
    return config


def logged_steps(workdir) -> list[int]:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line)["step"] for line in f if line.endswith("\n")]


def wait_for_step(procs, workdir, step: int) -> int:
    """Waits until the run has logged `step`; returns the last step logged."""
    while all(p.poll() is None for p in procs) and max(logged_steps(workdir), default=0) < step:
        time.sleep(0.005)
    assert all(p.poll() is None for p in procs), "the run ended before the signal"
    return max(logged_steps(workdir))


def train_only(config, workdir):
    """The run's training alone (resuming from `workdir`'s checkpoints), no evaluation."""
    from natjax import checkpoints, training

    run = training.setup(config, str(workdir))
    manager = checkpoints.create_manager(str(workdir))
    state, _ = training.train(run, training.initial_state(run, manager), manager)
    return state


def assert_same_state(a, b) -> None:
    from natjax.training import assignment_sha256

    assert int(a.step) == int(b.step)
    assert assignment_sha256(a.perm) == assignment_sha256(b.perm)
    leaves = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    assert all(np.array_equal(x, y) for x, y in leaves)


def assert_refused(changes: dict, message: str, check) -> None:
    """`check` (an objective's) and the run's `check_config` both refuse the smoke preset with
    `changes` (dotted keys) in one sentence holding `message`; without them, both accept it."""
    import pytest

    from configs.nat import get_config
    from natjax.errors import UserError
    from natjax.training.config_checks import check_config

    config = get_config("smoke")
    check(config)
    check_config(config)
    config.update_from_flattened_dict(changes)
    for fn in (check, check_config):
        with pytest.raises(UserError) as refused:
            fn(config)
        assert message in str(refused.value) and len(str(refused.value).splitlines()) == 1

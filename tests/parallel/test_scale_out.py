"""Data parallelism on simulated devices and hosts: 8 CPU devices in one process, and two
processes on localhost joined by jax.distributed, against the single-device run."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port, last_json, python

FIRST_STEP = """
import json, sys
import jax, numpy as np
sys.path.insert(0, {root!r})
from configs.nat import get_config
from natjax import checkpoints, training
from natjax.parallel import sharding
config = get_config("smoke")
config.nat.scope = {scope!r}
run = training.setup(config, {workdir!r})
state = training.initial_state(run, checkpoints.create_manager({workdir!r}))
step = training.compile_step(run)
batches = [sharding.put_batch(r, run.mesh, config.batch_size) for r in training.batches(run, 0)]
state, metrics = step(state, batches[0])
copies = [np.asarray(s.data) for s in state.perm.addressable_shards]
with jax.transfer_guard("disallow"):  # Nothing goes to the host inside later steps.
    later = state
    for batch in batches[1:3]:
        later, _ = step(later, batch)
jax.block_until_ready(later)
print(json.dumps({{
    "devices": jax.device_count(),
    "perm": np.asarray(copies[0]).tolist(),
    "copies_equal": all(np.array_equal(c, copies[0]) for c in copies),
    "loss": float(metrics["loss"]),
    "changed": float(metrics["changed_fraction"]),
    "compiled": step._cache_size(),
}}))
"""


def first_step(tmp_path, devices: int, scope: str = "global") -> dict:
    workdir = str(tmp_path / f"first{devices}{scope}")
    out = python(FIRST_STEP.format(root=ROOT, workdir=workdir, scope=scope), devices)
    assert out.returncode == 0, out.stderr[-3000:]
    return last_json(out)


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_first_step_assignment_is_the_same_on_eight_devices(tmp_path):
    one, eight = first_step(tmp_path, 1), first_step(tmp_path, 8)
    assert (one["devices"], eight["devices"]) == (1, 8)
    assert eight["copies_equal"] and eight["compiled"] == 1
    assert one["changed"] > 0.5  # The first step really re-assigns (the smoke preset: every epoch).
    assert eight["perm"] == one["perm"]
    assert eight["loss"] == pytest.approx(one["loss"], rel=1e-4)


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_local_scope_keeps_each_device_slice_to_itself(tmp_path):
    result = first_step(tmp_path, 8, scope="local")
    assert result["copies_equal"]
    # The first batch's ids, split in 8 slices of 16: each slice's targets stay in that slice.
    from configs.nat import get_config
    from natjax import data

    config = get_config("smoke")
    n = config.data.max_train_examples
    ids = data.epoch_ids(n, config.batch_size, config.seed, 0)[0]
    perm = result["perm"]
    for k in range(8):
        mine = ids[16 * k : 16 * (k + 1)]
        assert sorted(perm[i] for i in mine) == sorted(mine.tolist())
    assert sum(perm[i] != i for i in ids) > 64  # And they did move within the slices.


def smoke(workdir, devices: int, *extra) -> dict:
    args = ["-m", "natjax.main", "--config=configs/nat.py:smoke", f"--workdir={workdir}"]
    out = python([*args, "--config.progress_bar=False", *extra], devices)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((workdir / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_smoke_run_on_eight_devices_matches_one_device(tmp_path):
    one = smoke(tmp_path / "one", 1)
    eight = smoke(tmp_path / "eight", 8)
    assert eight["devices"] == 8
    assert eight["final_loss"] == pytest.approx(one["final_loss"], rel=0.02)
    assert abs(eight["knn_top1"] - one["knn_top1"]) <= 0.01


def launch_two(tmp_path, *extra_by_process):
    """Runs natjax.main as processes 0 and 1 on localhost, 2 simulated devices each."""
    port = free_port()
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    common = [
        sys.executable,
        "-m",
        "natjax.main",
        "--config=configs/nat.py:smoke",
        f"--workdir={tmp_path}",
        "--config.progress_bar=False",
        f"--coordinator_address=localhost:{port}",
        "--num_processes=2",
    ]
    procs = [
        subprocess.Popen(
            [*common, f"--process_id={i}", *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, extra in enumerate(extra_by_process)
    ]
    return procs, [p.communicate(timeout=900) for p in procs]


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_two_processes_on_localhost_run_the_smoke_preset(tmp_path):
    procs, outs = launch_two(tmp_path, [], [])
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    # Only process 0 reports; the run itself checked that both hosts end on the same assignment
    # (distributed.check_same_assignment), and its digest is the checkpoint's.
    assert "NAT results" in outs[0][0] and "NAT results" not in outs[1][0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["processes"], summary["devices"]) == (2, 4)
    assert summary["steps"] == 32

    # The 4-device, 2-host checkpoint resumes here, on one device, at its last step.
    from configs.nat import get_config
    from natjax import checkpoints, training

    run = training.setup(get_config("smoke"), str(tmp_path))
    state = training.initial_state(run, checkpoints.create_manager(str(tmp_path), create=False))
    assert int(state.step) == 32
    assert training.assignment_sha256(state.perm) == summary["assignment_sha256"]
    # And its encoder exports and loads here too (a pod checkpoint opens on a laptop).
    import natjax

    encode = natjax.load_encoder(natjax.export(str(tmp_path), str(tmp_path / "export")))
    assert encode(run.dataset.test.images[:4]).shape[0] == 4


@pytest.mark.slow
def test_hosts_with_different_configs_are_refused(tmp_path):
    procs, outs = launch_two(tmp_path, [], ["--config.seed=7"])
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 2, err[-3000:]
        assert "the hosts disagree on the config (process 1 differs from process 0)" in err

"""The `imagenet` preset end to end at toy size: AlexNet-BN on 256 px JPEGs in a folder too
large for memory (data.in_memory_gb=0: decoded per batch in grain's worker processes), 8
simulated devices, a SIGTERM in the middle, the resumed run to the end, and the streamed
evaluation."""

import json
import os
import signal
import subprocess
import sys

import pytest

from natjax import checkpoints
from natjax.bench.decode import write_folder
from natjax.errors import Preempted
from tests.helpers import ROOT, logged_steps, wait_for_step

STEPS = 4  # 32 images, batch 8, 1 epoch.


def _command(workdir, data) -> list[str]:
    return [
        sys.executable,
        "-m",
        "natjax.main",
        "--config=configs/nat.py:imagenet",
        f"--workdir={workdir}",
        f"--config.data.source=folder:{data}",
        "--config.data.test_split=test",
        "--config.data.in_memory_gb=0",
        "--config.batch_size=8",
        "--config.num_epochs=1",
        "--config.progress_bar=False",
        "--config.log_every_steps=1",
        "--config.checkpoint.every_steps=0",
        "--config.eval.monitor_every_epochs=0",
        "--config.eval.protocols=('linear','knn')",
        "--config.eval.knn_k=5",
        "--config.eval.linear.epochs=1",  # Was probe_steps=5 (L-BFGS), the cheapest fit.
        "--config.eval.batch_size=8",
        "--config.eval.max_feature_bytes=0",  # The streamed evaluation, as ImageNet needs.
    ]


@pytest.mark.slow
def test_imagenet_preset_streams_is_preempted_resumes_and_evaluates(tmp_path):
    data = write_folder(str(tmp_path / "imagenet"), n=32, side=256)
    workdir = tmp_path / "run"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    cmd = _command(workdir, data)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    wait_for_step([proc], workdir, 1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == Preempted.EXIT_CODE, err[-3000:]
    assert "run the same command again to resume" in err
    assert "leaked" not in err  # grain's workers' shared memory was released, not swept up.
    saved = checkpoints.create_manager(str(workdir), create=False).all_steps()
    assert len(saved) == 1 and 1 <= saved[0] < STEPS

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(set(logged_steps(workdir))) == list(range(1, STEPS + 1))
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["steps"] == STEPS and summary["devices"] == 8
    assert summary["feature_dim"] == 9216  # AlexNet's pool5 at 224 px: 6 x 6 x 256.
    assert summary["features_in_memory"] is False  # Streamed: nothing of n x D is held.
    assert 0.0 <= summary["linear_probe_top1"] <= 1.0 and 0.0 <= summary["knn_top1"] <= 1.0

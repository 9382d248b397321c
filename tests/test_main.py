"""The command line as a user runs it: the :smoke preset on real Fashion-MNIST, and mistakes."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from natjax.data.idx import DEBIAN_FASHION_MNIST_DIR

needs_fashion_mnist = pytest.mark.skipif(
    not os.path.isdir(DEBIAN_FASHION_MNIST_DIR),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)


def run_main(*args, workdir):
    cmd = [sys.executable, "-m", "natjax.main", f"--workdir={workdir}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@needs_fashion_mnist
def test_smoke_preset_trains_and_reports(tmp_path):
    out = run_main("--config=configs/nat.py:smoke", "--config.progress_bar=False", workdir=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["num_train_examples"] == 2048 and summary["steps"] == 2 * (2048 // 128)
    assert "linear_probe_top1" in out.stdout
    # Even two epochs on 2k images learn something: far above chance (10%) under kNN.
    assert summary["knn_top1"] > 0.5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--config.model.foo=1", "the config has no key 'foo'"),
        ("--config.nat.solver=magic", "nat.solver='magic' is invalid"),
        ("--config.num_epochs=0", "num_epochs=0 is invalid"),
        ("--config.input.filter=blur", "input.filter='blur' is invalid: it must be sobel, "),
        ("--config.data.source=idx:/nonexistent", "apt-get install dataset-fashion-mnist"),
        ("--config.data.source=folder:/nonexistent", "does not exist"),
    ],
)
def test_mistakes_get_one_clear_sentence(tmp_path, override, message):
    out = run_main("--config=configs/nat.py:smoke", override, workdir=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@needs_fashion_mnist
def test_batch_larger_than_dataset(tmp_path):
    out = run_main("--config=configs/nat.py:smoke", "--config.batch_size=4096", workdir=tmp_path)
    assert out.returncode == 2 and "larger than the 2048 training examples" in out.stderr


def test_wrong_type_is_refused_by_flag_parsing(tmp_path):
    out = run_main("--config=configs/nat.py:smoke", "--config.batch_size=abc", workdir=tmp_path)
    assert out.returncode != 0 and "--config.batch_size=abc" in out.stderr


def test_unwritable_workdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run_main("--config=configs/nat.py:smoke", workdir=blocker / "sub")
    if not os.path.isdir(DEBIAN_FASHION_MNIST_DIR):
        pytest.skip("needs the dataset to get past loading")
    assert out.returncode == 2 and "pass a writable directory" in out.stderr

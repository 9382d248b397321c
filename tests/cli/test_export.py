"""`python -m natjax.export` (`natjax.cli.export`): a run's encoder written where asked, which
`natjax.load_encoder` reads; an existing export is never overwritten."""

import subprocess
import sys

import numpy as np
import pytest

import natjax
from natjax import data
from tests.helpers import ROOT


def test_the_command_exports_the_encoder_and_refuses_to_overwrite(
    command, capsys, tiny_run, tmp_path
):
    out = tmp_path / "export"
    module = command("export", f"--workdir={tiny_run.workdir}", f"--out={out}", "--step=8")
    module.main([])
    assert capsys.readouterr().out == f"Exported the encoder to {out}\n"
    images = data.load(tiny_run.config.data).test.images[:3]
    assert natjax.load_encoder(str(out))(images).shape == (3, 6 * 6 * 16)
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "already holds an export" in err
    assert err.startswith("natjax.export: error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_export_command_writes_an_encoder_that_loads(tiny_run, tmp_path):
    out = tmp_path / "export"
    cmd = [sys.executable, "-m", "natjax.export", f"--workdir={tiny_run.workdir}", f"--out={out}"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Exported the encoder to {out}" in done.stdout
    images = data.load(tiny_run.config.data).test.images[:5]
    feats = natjax.load_encoder(str(out))(images)
    assert feats.shape == (5, 6 * 6 * 16) and np.isfinite(feats).all()
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already holds an export" in again.stderr
    missing = subprocess.run(cmd[:3], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "--workdir" in missing.stderr  # A required flag.

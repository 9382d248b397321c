"""`python -m natjax.main|evaluate|export|ablate`: each command module runs its front-end
(`natjax.cli.*.run`), flags parsed and a user's mistake told in one sentence."""

import os
import runpy

import pytest

from tests.helpers import ROOT

CONFIG = os.path.join(ROOT, "configs", "nat.py")
MISSING = "/nonexistent/config.json is missing; /nonexistent is not a natjax workdir or export."


@pytest.mark.parametrize(
    ("shim", "front_end", "args", "message"),
    [
        (
            "main",
            "train",
            [f"--config={CONFIG}:smoke", "--config.num_epochs=0"],
            "natjax: error: --config.num_epochs=0 is invalid: it must be a positive integer.",
        ),
        ("evaluate", "evaluate", ["--workdir=/nonexistent"], f"natjax.evaluate: error: {MISSING}"),
        (
            "export",
            "export",
            ["--workdir=/nonexistent", "--out=/nonexistent/out"],
            f"natjax.export: error: {MISSING}",
        ),
        (
            "ablate",
            "ablate",
            [f"--config={CONFIG}:ablation", "--variants=twice"],
            "natjax.ablate: error: unknown --variants twice; use any of",
        ),
        (
            "figure2",
            "figure2",
            [f"--config={CONFIG}:smoke", "--periods=never"],
            "natjax.figure2: error: --periods=never must be integers, e.g. 0,1,3,10.",
        ),
    ],
)
def test_each_command_module_runs_its_front_end(absl_flags, capsys, shim, front_end, args, message):
    absl_flags([f"natjax.{shim}", *args], f"natjax.{shim}", f"natjax.cli.{front_end}")
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module(f"natjax.{shim}", run_name="__main__")
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.startswith(message), err
    assert len(err.strip().splitlines()) == 1

"""`python -m natjax.ablate` (`natjax.cli.ablate`): the variants asked for, with the keys set
on the command line kept from the recipes, and an unknown variant in one sentence."""

import os
import subprocess
import sys

import pytest

from natjax.training import ablation
from tests.helpers import ROOT

ABLATION = f"--config={os.path.join(ROOT, 'configs', 'nat.py')}:ablation"


def test_the_command_passes_the_variants_and_the_users_keys(command, monkeypatch, capsys):
    module = command(
        "ablate",
        ABLATION,
        "--workdir=/tmp/a",
        "--variants=nat,supervised",
        "--config.optim.learning_rate=0.2",
        "--seeds=0,2",
        "--record=/tmp/r",
    )
    called = []

    def ablate(base, workdir, names, user_keys, seeds, record_dir):
        called.append((base.optim.learning_rate, workdir, names, user_keys, seeds, record_dir))
        return [ablation._row("NAT (the base config)", [{"knn_top1": 0.5}])]

    monkeypatch.setattr(ablation, "ablate", ablate)
    module.main([])
    assert called == [
        (0.2, "/tmp/a", ["nat", "supervised"], ("optim.learning_rate",), [0, 2], "/tmp/r")
    ]
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "NAT ablation in /tmp/a (top-1 %)"
    assert out[-1].startswith("| NAT (the base config) | — | — | 50.00 |")


def test_an_unknown_variant_is_one_sentence(command, capsys):
    module = command("ablate", ABLATION, "--variants=nat,twice")
    with pytest.raises(SystemExit) as stopped:
        module.main([])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "natjax.ablate: error: unknown --variants twice; use any of "
        + ", ".join(sorted(v.name for v in ablation.variants()))
        + "."
    )


@pytest.mark.slow
def test_the_command_names_an_unknown_variant_in_one_sentence(tmp_path):
    cmd = [sys.executable, "-m", "natjax.ablate", "--config=configs/nat.py:smoke"]
    cmd += [f"--workdir={tmp_path}", "--variants=nat,twice"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "natjax.ablate: error: unknown --variants twice; use any of "
        + ", ".join(sorted(v.name for v in ablation.variants()))
        + "."
    )

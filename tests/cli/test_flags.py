"""What the front-ends share (`natjax.cli.flags`): one sentence and exit status 2 for a
user's mistake, the preemption's own status, and the keys a user set."""

import os

import pytest

from natjax.cli.flags import run_command
from natjax.errors import Preempted, UserError
from tests.helpers import ROOT


def test_a_users_mistake_is_one_sentence_and_exit_status_2(capsys):
    def mistake():
        raise UserError("--config.x=1 is invalid: it must be 2.")

    with pytest.raises(SystemExit) as stopped:
        run_command("natjax.test", mistake)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "natjax.test: error: --config.x=1 is invalid: it must be 2.\n"


def test_a_preempted_run_exits_with_its_own_status_and_sentence(capsys):
    def preempted():
        raise Preempted(5, "/runs/x/checkpoints")

    with pytest.raises(SystemExit) as stopped:
        run_command("natjax", preempted)
    assert stopped.value.code == Preempted.EXIT_CODE != 2
    assert capsys.readouterr().err.startswith("natjax: preempted (SIGTERM): stopped after step 5")


def test_ctrl_c_outside_the_train_loop_is_one_sentence_and_status_130(capsys):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stopped:
        run_command("natjax.evaluate", interrupted)
    assert stopped.value.code == 130
    assert capsys.readouterr().err == (
        "natjax.evaluate: interrupted (Ctrl-C); what was saved before is kept: run the same "
        "command again to go on.\n"
    )


def test_other_errors_are_not_hidden():
    def bug():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        run_command("natjax", bug)
    assert run_command("natjax", lambda: None) is None


def test_the_keys_set_on_the_command_line_in_their_order(command):
    from natjax.cli import flags as cli_flags

    config = f"--config={os.path.join(ROOT, 'configs', 'nat.py')}"
    command("train", config, "--config.num_epochs=1", "--config.nat.scope=local")
    assert cli_flags.user_keys() == ("num_epochs", "nat.scope")

"""The exceptions a user meets (`natjax.errors`): one sentence that names the key, the value
and what it must be; a preemption that says where it saved and how to resume."""

import pytest

from natjax.errors import Preempted, UserError, require


def test_require_names_the_key_the_value_and_what_it_must_be():
    require(True, "optim.learning_rate", -1.0, "positive")  # Holds: nothing raised.
    with pytest.raises(UserError) as raised:
        require(False, "optim.learning_rate", -1.0, "positive")
    assert str(raised.value) == "--config.optim.learning_rate=-1.0 is invalid: it must be positive."


def test_a_preemption_says_the_step_it_saved_and_how_to_resume():
    stop = Preempted(12, "runs/nat/checkpoints")
    assert stop.step == 12 and Preempted.EXIT_CODE == 75
    assert str(stop).startswith("preempted (SIGTERM): stopped after step 12 and saved it in ")
    assert str(stop).endswith("run the same command again to resume from step 12.")

"""The exception types for mistakes a user can make and fix, and for a stopped run."""


class UserError(Exception):
    """A mistake in the config, data or workdir, told in one sentence that says how to fix it."""


class Preempted(Exception):
    """A run stopped by a preemption notice (SIGTERM) or Ctrl-C (SIGINT) after saving the step
    it had reached; the same command resumes it. The process exits with `EXIT_CODE`."""

    EXIT_CODE = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, worth trying again.

    def __init__(self, step: int, directory: str, signal_name: str = "SIGTERM"):
        how = "interrupted" if signal_name == "SIGINT" else "preempted"
        super().__init__(
            f"{how} ({signal_name}): stopped after step {step} and saved it in {directory}; "
            f"run the same command again to resume from step {step}."
        )
        self.step = step


def require(ok: bool, key: str, value, expected: str) -> None:
    """Raises a UserError naming the config key `key` unless `ok`: `--config.KEY=VALUE is
    invalid: it must be EXPECTED.`"""
    if not ok:
        raise UserError(f"--config.{key}={value!r} is invalid: it must be {expected}.")

"""What the command-line front-ends share: flag parsing that names an unknown `--config.KEY`
in one sentence, the keys a user set, and the one way a command reports a user's mistake.
Defines no flags itself."""

import re
import signal
import sys
import time
from collections.abc import Callable

from absl import flags, logging
from ml_collections import config_flags

from natjax import records
from natjax.cli import quiet
from natjax.errors import Preempted, UserError


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, with every mistake on the command line told in one sentence (exit
    status 2) instead of a traceback: an unknown `--config.KEY`, a value of the wrong type, a
    bad preset, a missing config file or required flag."""
    try:
        rest = flags.FLAGS(argv)
        for name in flags.FLAGS:  # A config file that failed to load raises on first use.
            value = flags.FLAGS[name].value
            if hasattr(type(value), "_ReportError"):  # ml_collections' stand-in for it.
                value._ReportError()
    except (AttributeError, KeyError) as e:
        _exit(_unknown_key(e, argv))
    except flags.Error as e:
        _exit(_flag_error(str(e)))
    except OSError as e:
        _exit(_config_file_error(str(e)))
    return rest


def _exit(sentence: str) -> None:
    print(f"natjax: error: {sentence}", file=sys.stderr)
    sys.exit(2)


def _unknown_key(e: Exception, argv: list[str]) -> str:
    """`ml_collections`' KeyError (`'KEY'\nDid you mean "K" instead of "KEY"?`) as a
    sentence."""
    while isinstance(e.args[0] if e.args else None, Exception):
        e = e.args[0]
    lines = (str(e.args[0]) if e.args else str(e)).splitlines() or [""]
    key = lines[0].strip("\"'")
    bad = [a for a in argv if a.startswith("--config.") and key in a.split("=")[0]]
    where = f" in {bad[0]}" if bad else ""
    hint = re.match(r'Did you mean "([^"]+)"', lines[-1])
    hint = f" (did you mean {hint.group(1)!r}?)" if hint else ""
    return (
        f"the config has no key {key!r}{where}{hint}; the keys are those of the config file "
        "(e.g. configs/nat.py)."
    )


def _flag_error(message: str) -> str:
    """absl's IllegalFlagValueError: a value of the wrong type, a config file whose
    `get_config` raised (its last line: natjax's own sentence for a bad preset), or a
    required flag left out."""
    lines = [line for line in message.splitlines() if line.strip()]
    if "Error whilst parsing config file" in message:
        last = lines[-1].split(": ", 1)[-1].strip()
        return last if last.endswith(".") else f"{last}."
    required = re.search(r"Flag --(\S+) must have a value other than None", message)
    if required:
        return f"--{required.group(1)} is required; see --help for what it takes."
    first = lines[0].removeprefix("flag ") if lines else message
    return f"{first}; see --help for the flags' types."


def _config_file_error(message: str) -> str:
    missing = re.search(r"No such file or directory: '([^']+)'", message)
    if missing:
        return f"the config file {missing.group(1)} does not exist; e.g. --config=configs/nat.py."
    return f"the config cannot be loaded ({message.splitlines()[0]})."


def user_keys(name: str = "config", flag_values: flags.FlagValues = flags.FLAGS) -> tuple[str, ...]:
    """The dotted config keys set on the command line (`--config.KEY=...`), once parsed."""
    return tuple(config_flags.get_override_values(flag_values[name]))


def int_list(flag: str, values: list[str] | None, example: str) -> list[int] | None:
    """`--FLAG=a,b,c` as integers (None when unset); anything else is one sentence."""
    if values is None:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise UserError(f"--{flag}={','.join(values)} must be integers, e.g. {example}.") from None


def run_command(prog: str, fn: Callable[[], None]) -> None:
    """Runs `fn`; a UserError is one sentence on stderr and exit status 2, a preemption its
    own sentence and `Preempted.EXIT_CODE`, a Ctrl-C outside the train loop (which saves and
    raises Preempted instead) one sentence and status 130."""
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO.
    quiet.keep_orbax_off_screen()
    try:
        fn()
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Preempted as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(Preempted.EXIT_CODE)
    except KeyboardInterrupt:
        print(
            f"{prog}: interrupted (Ctrl-C); what was saved before is kept: run the same command "
            "again to go on.",
            file=sys.stderr,
        )
        sys.exit(128 + signal.SIGINT)


def record_run(path: str, kind: str, results: dict, config, start: float) -> None:
    """`--record=PATH`: a run's figures as a results record named by its objective and seed,
    with the command's wall time since `start` (`time.perf_counter()`)."""
    wall = time.perf_counter() - start
    records.save(
        path, kind, config.objective, results, config=config, seed=config.seed, wall_seconds=wall
    )
    print(f"Recorded the results in {path}")

"""What the command-line front-ends share: flag parsing that names an unknown `--config.KEY`
in one sentence, the keys a user set, and the one way a command reports a user's mistake.
Defines no flags itself."""

import sys
import time
from collections.abc import Callable

from absl import flags, logging
from ml_collections import config_flags

from natjax import records
from natjax.errors import Preempted, UserError


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parsing, with an unknown `--config.KEY` told in one sentence instead of a trace."""
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:
        key = str(e).strip("\"'")
        bad = [a for a in argv if a.startswith("--config.") and key in a.split("=")[0]]
        where = f" in {bad[0]}" if bad else ""
        print(
            f"natjax: error: the config has no key {key!r}{where}; the keys are those of "
            "the config file (e.g. configs/nat.py).",
            file=sys.stderr,
        )
        sys.exit(2)


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
    own sentence and `Preempted.EXIT_CODE`."""
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save at INFO.
    try:
        fn()
    except UserError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Preempted as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(Preempted.EXIT_CODE)


def record_run(path: str, kind: str, results: dict, config, start: float) -> None:
    """`--record=PATH`: a run's figures as a results record named by its objective and seed,
    with the command's wall time since `start` (`time.perf_counter()`)."""
    wall = time.perf_counter() - start
    records.save(
        path, kind, config.objective, results, config=config, seed=config.seed, wall_seconds=wall
    )
    print(f"Recorded the results in {path}")

"""What the command-line entry points share (flag parsing); defines no flags itself."""

import sys

from absl import flags


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

"""`python -m natjax.ablate --config=configs/nat.py:ablation [--workdir=DIR] [--variants=a,b]`.

Trains and evaluates each of the paper's ablations (`natjax.ablation.VARIANTS`) of the given
config, one after another, then prints their table and writes it to `DIR/ablation.md` and
`DIR/ablation.json`. Run it again to resume: finished variants are read back, not retrained.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from natjax import ablation
from natjax.cli import parse_flags
from natjax.errors import UserError

_CONFIG = config_flags.DEFINE_config_file("config", None, "The base config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/ablation", "One sub-directory per variant.")
_VARIANTS = flags.DEFINE_list(
    "variants",
    None,
    f"Any of {', '.join(v.name for v in ablation.VARIANTS)} (default: all).",
)
flags.mark_flags_as_required(["config"])


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        table = ablation.ablate(_CONFIG.value, _WORKDIR.value, _VARIANTS.value)
    except UserError as e:
        print(f"natjax.ablate: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"NAT ablation in {_WORKDIR.value} (top-1 %)")
    print(ablation.format_table(table))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)

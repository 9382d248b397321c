"""`python -m natjax.export --workdir DIR --out OUT [--step STEP]`.

Writes the encoder of a training run (its latest checkpoint, or `--step`) as an Orbax
checkpoint plus its config; `natjax.load_encoder(OUT)` then returns `encode(images)` mapping
uint8 `[N, H, W, C]` to float32 features `[N, D]`.
"""

import sys

from absl import app, flags, logging

from natjax.encoder_io import export
from natjax.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's directory.")
_OUT = flags.DEFINE_string("out", None, "Where to write the export.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step to export (default: the latest).")


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)
    try:
        print(f"Exported the encoder to {export(_WORKDIR.value, _OUT.value, _STEP.value)}")
    except UserError as e:
        print(f"natjax.export: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    flags.mark_flags_as_required(["workdir", "out"])
    app.run(main)

"""`python -m natjax.export --workdir DIR --out OUT [--step STEP]`.

Writes the encoder of a training run (its latest checkpoint, or `--step`) as an Orbax
checkpoint plus its config; `natjax.load_encoder(OUT)` then returns `encode(images)` mapping
uint8 `[N, H, W, C]` to float32 features `[N, D]`.
"""

from absl import app, flags

from natjax.checkpoints import export
from natjax.cli.flags import parse_flags, run_command

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's directory.")
_OUT = flags.DEFINE_string("out", None, "Where to write the export.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step to export (default: the latest).")


def _export() -> None:
    print(f"Exported the encoder to {export(_WORKDIR.value, _OUT.value, _STEP.value)}")


def main(argv: list[str]) -> None:
    del argv
    run_command("natjax.export", _export)


def run() -> None:
    flags.mark_flags_as_required(["workdir", "out"])
    app.run(main, flags_parser=parse_flags)

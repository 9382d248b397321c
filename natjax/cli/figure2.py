"""`python -m natjax.figure2 --config=configs/nat.py:cifar10_cpu [--workdir=DIR]
[--seeds=0,1,2] [--periods=0,1,3,10] [--epochs=5,10,20,40] [--record=DIR]`.

The paper's Figure 2 (`natjax.training.figure2`): trains NAT at every re-assignment period and
training length asked for, once per seed, then prints the points and writes
`DIR/figure2.json` and `DIR/figure2.png`. Run it again to resume; `--record=DIR` writes each
run as a results record, `DIR/POINT/seedS.json`, and reads back those recorded before.
"""

from absl import app, flags
from ml_collections import config_flags

from natjax.cli.flags import int_list, parse_flags, run_command, user_keys
from natjax.training import figure2

_CONFIG = config_flags.DEFINE_config_file("config", None, "The base config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/figure2", "One sub-directory per point.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Every point once per seed.")
_PERIODS = flags.DEFINE_list(
    "periods", [str(p) for p in figure2.PERIODS], "Epochs between re-assignments (0: never)."
)
_EPOCHS = flags.DEFINE_list(
    "epochs", [str(e) for e in figure2.EPOCHS], "Training lengths of the second curve."
)
_RECORD = flags.DEFINE_string(
    "record", None, "Also write each run's figures as results records under this directory."
)


def _figure2() -> None:
    rows = figure2.figure2(
        _CONFIG.value,
        _WORKDIR.value,
        int_list("seeds", _SEEDS.value, "0,1,2"),
        user_keys(),
        record_dir=_RECORD.value,
        periods=int_list("periods", _PERIODS.value, "0,1,3,10"),
        epochs=int_list("epochs", _EPOCHS.value, "5,10,20,40"),
    )
    print(f"NAT's Figure 2 in {_WORKDIR.value} (top-1 %; the picture: figure2.png)")
    print(figure2.format_table(rows))


def main(argv: list[str]) -> None:
    del argv
    run_command("natjax.figure2", _figure2)


def run() -> None:
    flags.mark_flags_as_required(["config"])
    app.run(main, flags_parser=parse_flags)

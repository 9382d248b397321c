"""`python -m natjax.ablate --config=configs/nat.py:ablation [--workdir=DIR] [--variants=a,b]
[--seeds=0,1,2] [--record=DIR]`.

Trains and evaluates each of the paper's ablations (`natjax.training.ablation.variants()`) of
the given config, one after another, then prints their table and writes it to
`DIR/ablation.md` and `DIR/ablation.json`. Run it again to resume: finished variants are read
back, not retrained. Each objective's variant runs with its recipe, except for the keys set on
the command line. `--seeds` runs every variant once per seed and reports mean ± std and n;
`--record=DIR` writes each measurement as a results record, `DIR/VARIANT/seedS.json`.
"""

from absl import app, flags
from ml_collections import config_flags

from natjax.cli.flags import int_list, parse_flags, run_command, user_keys
from natjax.training import ablation

_CONFIG = config_flags.DEFINE_config_file("config", None, "The base config.", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/ablation", "One sub-directory per variant.")
_VARIANTS = flags.DEFINE_list(
    "variants",
    None,
    f"Any of {', '.join(v.name for v in ablation.variants())} (default: all).",
)

_SEEDS = flags.DEFINE_list(
    "seeds", None, "Run every variant once per seed (config.seed), e.g. 0,1,2 (default: once)."
)
_RECORD = flags.DEFINE_string(
    "record",
    None,
    "Also write each variant's and the baselines' figures as results records under this "
    "directory (DIR/VARIANT/seedS.json; see `python -m natjax.report`).",
)


def _ablate() -> None:
    seeds = int_list("seeds", _SEEDS.value, "0,1,2")
    table = ablation.ablate(
        _CONFIG.value,
        _WORKDIR.value,
        _VARIANTS.value,
        user_keys(),
        seeds=seeds,
        record_dir=_RECORD.value,
    )
    print(f"NAT ablation in {_WORKDIR.value} (top-1 %)")
    print(ablation.format_table(table))


def main(argv: list[str]) -> None:
    del argv
    run_command("natjax.ablate", _ablate)


def run() -> None:
    flags.mark_flags_as_required(["config"])
    app.run(main, flags_parser=parse_flags)

"""The paper's ablations, run one after another from one base config, in one table.

Each variant is the base config with a few keys changed; it trains and is evaluated in
`WORKDIR/VARIANT/` exactly as `natjax.main` would (so an interrupted ablation resumes: a
variant with a `summary.json` is read back, one with checkpoints resumes). The baselines (the
base config's encoder at random initialisation, raw pixels) are evaluated under the same
protocols into `WORKDIR/baselines.json`; the supervised variants train the same encoder with
labels, the upper bound. Results go to `WORKDIR/ablation.json` and `WORKDIR/ablation.md`.
"""

import dataclasses
import json
import os
from collections.abc import Callable

import jax
from ml_collections import ConfigDict

from natjax import evaluation, train
from natjax.errors import UserError

PROTOCOLS = ("linear", "mlp", "knn")  # What every variant is evaluated with.
COLUMNS = (
    "linear_probe_top1",
    "mlp_probe_top1",
    "knn_top1",
    "final_loss",
    "train_seconds",
    "images_per_second",  # Training images (not views) per second, past the first step.
)


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str  # Its directory under the ablation's workdir.
    label: str  # Its row in the table.
    change: Callable[[ConfigDict], None] = lambda c: None


def _set(**changes) -> Callable[[ConfigDict], None]:
    """Sets dotted keys, given with `__` for the dots (`nat__targets="discrete"`)."""
    flat = {key.replace("__", "."): value for key, value in changes.items()}
    return lambda c: c.update_from_flattened_dict(flat)


def _scale_epochs(factor: float) -> Callable[[ConfigDict], None]:
    def change(c: ConfigDict) -> None:
        c.num_epochs = max(1, round(c.num_epochs * factor))

    return change


VARIANTS = (
    Variant("nat", "NAT (the base config)"),
    Variant("reassign_never", "re-assign never", _set(nat__reassign_every=0)),
    Variant("reassign_1", "re-assign every epoch", _set(nat__reassign_every=1)),
    Variant("reassign_10", "re-assign every 10 epochs", _set(nat__reassign_every=10)),
    Variant("discrete", "discrete targets (one-hot)", _set(nat__targets="discrete")),
    Variant("raw", "raw input", _set(input__filter="raw")),
    Variant("highpass", "high-pass input", _set(input__filter="highpass")),
    Variant("epochs_half", "half the epochs", _scale_epochs(0.5)),
    Variant("epochs_double", "twice the epochs", _scale_epochs(2.0)),
    # Not one of the paper's: the mixed-precision option's effect on what is learnt.
    Variant("bfloat16", "bfloat16 compute", _set(model__dtype="bfloat16")),
    Variant("supervised", "supervised (labels)", _set(objective="supervised")),
    Variant(
        "supervised_raw",
        "supervised, raw input",
        _set(objective="supervised", input__filter="raw"),
    ),
    Variant(
        "supervised_highpass",
        "supervised, high-pass input",
        _set(objective="supervised", input__filter="highpass"),
    ),
    # NAT's successors on the same encoder, input, optimizer and schedule (natjax.objectives).
    Variant("simclr", "SimCLR (two strong views, NT-Xent)", _set(objective="simclr")),
    Variant("rotation", "RotNet (rotation prediction)", _set(objective="rotation")),
    Variant("instdisc", "InstDisc (memory bank, full softmax)", _set(objective="instdisc")),
    Variant("simsiam", "SimSiam (predictor, stop-gradient)", _set(objective="simsiam")),
    Variant("byol", "BYOL (predictor, momentum target)", _set(objective="byol")),
    Variant("moco", "MoCo v2 (momentum target, queue)", _set(objective="moco")),
    Variant("swav", "SwAV (prototypes, Sinkhorn, swapped prediction)", _set(objective="swav")),
    Variant(
        "deepcluster",
        "DeepCluster (k-means pseudo-labels each epoch)",
        _set(objective="deepcluster"),
    ),
)
BASE = VARIANTS[0].name


def select(names: list[str] | None) -> tuple[Variant, ...]:
    """The variants named (all by default), in the table's order."""
    known = {v.name for v in VARIANTS}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise UserError(
            f"unknown --variants {', '.join(unknown)}; use any of {', '.join(sorted(known))}."
        )
    return tuple(v for v in VARIANTS if names is None or v.name in names)


def variant_config(base: ConfigDict, variant: Variant) -> ConfigDict:
    """The base config with the variant's changes, evaluated under PROTOCOLS."""
    config = base.copy_and_resolve_references()
    variant.change(config)
    config.eval.protocols = PROTOCOLS
    return config


def run_variant(base: ConfigDict, variant: Variant, workdir: str) -> dict:
    """The variant's summary: read back when it finished before, else trained (or resumed)."""
    directory = os.path.join(workdir, variant.name)
    done = os.path.join(directory, "summary.json")
    if os.path.exists(done):
        with open(done) as f:
            return json.load(f)
    return train.train_and_evaluate(variant_config(base, variant), directory)


def run_baselines(base: ConfigDict, workdir: str) -> dict:
    """The baselines' top-1 under PROTOCOLS: read back when measured before."""
    path = os.path.join(workdir, "baselines.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    results = evaluation.evaluate_baselines(base, PROTOCOLS)
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        with open(path, "w") as f:
            json.dump(results, f, indent=2)
    return results


def _row(label: str, summary: dict) -> dict:
    return {"variant": label, **{key: summary.get(key) for key in COLUMNS}}


def rows(summaries: dict[str, dict], baselines: dict) -> list[dict]:
    """One row per variant in VARIANTS' order, then one per baseline."""
    out = [_row(v.label, summaries[v.name]) for v in VARIANTS if v.name in summaries]
    for name, label in (("random_init", "random-init encoder"), ("raw_pixels", "raw pixels")):
        prefix = f"baseline_{name}_"
        if any(key.startswith(prefix) for key in baselines):
            scores = {
                "linear_probe_top1": baselines.get(prefix + "linear_top1"),
                "mlp_probe_top1": baselines.get(prefix + "mlp_top1"),
                "knn_top1": baselines.get(prefix + "knn_top1"),
            }
            out.append(_row(label, scores))
    return out


def _cell(value, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def format_table(table: list[dict]) -> str:
    """The rows as a Markdown table (top-1 in %)."""
    lines = [
        "| variant | linear probe | MLP probe | kNN | final loss | train s | img/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table:
        pct = [_cell(None if r[k] is None else 100 * r[k], ".2f") for k in COLUMNS[:3]]
        lines.append(
            f"| {r['variant']} | {' | '.join(pct)} | {_cell(r['final_loss'], '.4f')} | "
            f"{_cell(r['train_seconds'], '.0f')} | {_cell(r['images_per_second'], ',.0f')} |"
        )
    return "\n".join(lines)


def ablate(base: ConfigDict, workdir: str, names: list[str] | None = None) -> list[dict]:
    """Runs the variants named (default: all) of `base` under `workdir`; writes and returns the
    table's rows."""
    summaries = {v.name: run_variant(base, v, workdir) for v in select(names)}
    table = rows(summaries, run_baselines(base, workdir))
    if jax.process_index() == 0:
        with open(os.path.join(workdir, "ablation.json"), "w") as f:
            json.dump(table, f, indent=2)
        with open(os.path.join(workdir, "ablation.md"), "w") as f:
            f.write(format_table(table) + "\n")
    return table

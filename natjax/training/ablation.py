"""The paper's ablations, run one after another from one base config, in one table.

Each variant is the base config with a few keys changed; it trains and is evaluated in
`WORKDIR/VARIANT/` exactly as `natjax.main` would (so an interrupted ablation resumes: a
variant with a `summary.json` is read back, one with checkpoints resumes). The baselines (the
base config's encoder at random initialisation, raw pixels) are evaluated under the same
protocols into `WORKDIR/baselines.json`; the supervised variants train the same encoder with
labels, the upper bound, and every other registered objective has a variant of its own (its
recipe applied, except the keys the user set). Results go to `WORKDIR/ablation.json` and
`WORKDIR/ablation.md`.
"""

import dataclasses
import json
import os
import statistics
import time
from collections.abc import Callable

import jax
from ml_collections import ConfigDict

from natjax import evaluation, objectives, records
from natjax.errors import UserError
from natjax.training.job import train_and_evaluate

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
    keys: tuple[str, ...] = ()  # The dotted keys `change` sets (the recipe leaves them be).


def _variant(name: str, label: str, **changes) -> Variant:
    """A variant setting dotted keys, given with `__` for the dots (`nat__targets="discrete"`)."""
    flat = {key.replace("__", "."): value for key, value in changes.items()}
    return Variant(name, label, lambda c: c.update_from_flattened_dict(flat), tuple(flat))


def _scale_epochs(factor: float) -> Callable[[ConfigDict], None]:
    def change(c: ConfigDict) -> None:
        c.num_epochs = max(1, round(c.num_epochs * factor))

    return change


# The paper's ablations of NAT, and the supervised upper bound on three inputs.
_ABLATIONS = (
    Variant("nat", "NAT (the base config)"),
    _variant("reassign_never", "re-assign never", nat__reassign_every=0),
    _variant("reassign_1", "re-assign every epoch", nat__reassign_every=1),
    _variant("reassign_10", "re-assign every 10 epochs", nat__reassign_every=10),
    _variant("discrete", "discrete targets (one-hot)", nat__targets="discrete"),
    _variant("raw", "raw input", input__filter="raw"),
    _variant("highpass", "high-pass input", input__filter="highpass"),
    Variant("epochs_half", "half the epochs", _scale_epochs(0.5), ("num_epochs",)),
    Variant("epochs_double", "twice the epochs", _scale_epochs(2.0), ("num_epochs",)),
    # Not one of the paper's: the mixed-precision option's effect on what is learnt.
    _variant("bfloat16", "bfloat16 compute", model__dtype="bfloat16"),
    _variant("supervised", "supervised (labels)", objective="supervised"),
    _variant(
        "supervised_raw", "supervised, raw input", objective="supervised", input__filter="raw"
    ),
    _variant(
        "supervised_highpass",
        "supervised, high-pass input",
        objective="supervised",
        input__filter="highpass",
    ),
)


def variants() -> tuple[Variant, ...]:
    """The ablations, then one variant per other registered objective: NAT's successors on the
    same encoder, input, optimizer and schedule (`natjax.objectives`), in the registry's order."""
    own = {v.name for v in _ABLATIONS}
    successors = tuple(
        _variant(spec.name, spec.label, objective=spec.name)
        for spec in objectives.REGISTRY.values()
        if spec.name not in own
    )
    return _ABLATIONS + successors


BASE = _ABLATIONS[0].name


def select(names: list[str] | None) -> tuple[Variant, ...]:
    """The variants named (all by default), in the table's order."""
    every = variants()
    known = {v.name for v in every}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise UserError(
            f"unknown --variants {', '.join(unknown)}; use any of {', '.join(sorted(known))}."
        )
    return tuple(v for v in every if names is None or v.name in names)


def variant_config(base: ConfigDict, variant: Variant, user_keys=()) -> ConfigDict:
    """The base config with the variant's changes and its objective's recipe (except the keys
    the variant or the user set), evaluated under PROTOCOLS."""
    config = base.copy_and_resolve_references()
    variant.change(config)
    config.eval.protocols = PROTOCOLS
    return objectives.apply_recipe(config, (*variant.keys, *user_keys))


def _read(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def seeded(config: ConfigDict, seed: int | None) -> ConfigDict:
    """`config` with `seed` as its seed (itself when None)."""
    if seed is None:
        return config
    config = config.copy_and_resolve_references()
    config.seed = seed
    return config


def run_variant(base: ConfigDict, variant: Variant, directory: str, user_keys=(), recorder=None):
    """The variant's summary: read back from `directory` when it finished before, else trained
    (or resumed) there and handed to `recorder(config, summary, seconds)`."""
    done = _read(os.path.join(directory, "summary.json"))
    if done is not None:
        return done
    config = variant_config(base, variant, user_keys)
    start = time.perf_counter()
    summary = train_and_evaluate(config, directory)
    if recorder is not None:
        recorder(config, summary, time.perf_counter() - start)
    return summary


def run_baselines(base: ConfigDict, workdir: str, name: str = "baselines.json", recorder=None):
    """The baselines' top-1 under PROTOCOLS: read back when measured before."""
    path = os.path.join(workdir, name)
    done = _read(path)
    if done is not None:
        return done
    start = time.perf_counter()
    results = evaluation.evaluate_baselines(base, PROTOCOLS)
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        with open(path, "w") as f:
            json.dump(results, f, indent=2)
    if recorder is not None:
        recorder(base, results, time.perf_counter() - start)
    return results


def _recorded(record_dir: str | None, name: str, seed: int) -> dict | None:
    """The figures of `RECORD_DIR/NAME/seedSEED.json` when it exists: measured before, perhaps
    on another machine, and read back instead of measured again."""
    path = None if record_dir is None else os.path.join(record_dir, name, f"seed{seed}.json")
    if path is None or not os.path.exists(path):
        return None
    return records.read_record(path).results  # A damaged or edited record is one sentence.


def _recorder(record_dir: str | None, name: str, seed: int):
    """Writes what `name` measured with `seed` to `RECORD_DIR/NAME/seedSEED.json`."""
    if record_dir is None:
        return None

    def record(config, results, seconds):
        path = os.path.join(record_dir, name, f"seed{seed}.json")
        records.save(path, "ablate", name, results, config=config, seed=seed, wall_seconds=seconds)

    return record


def measure(config: ConfigDict, variant: Variant, directory: str, user_keys=(), record_dir=None):
    """The variant's summary at `config.seed`: read back from its record under `record_dir`
    where there is one, else from `directory` (`run_variant`), recorded where asked."""
    summary = _recorded(record_dir, variant.name, config.seed)
    if summary is not None:
        return summary
    recorder = _recorder(record_dir, variant.name, config.seed)
    return run_variant(config, variant, directory, user_keys, recorder)


def _row(label: str, summaries: list[dict]) -> dict:
    """The mean of each column over the seeds' summaries, with its sample std when n > 1."""
    row = {"variant": label, "n": len(summaries)}
    for key in COLUMNS:
        values = [s[key] for s in summaries if s.get(key) is not None]
        row[key] = statistics.fmean(values) if values else None
        row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
    return row


def rows(summaries: dict[str, list[dict]], baselines: list[dict]) -> list[dict]:
    """One row per variant in `variants()`' order, then one per baseline; each summarises the
    seeds' runs (a list of summaries per variant, one baselines dict per seed)."""
    out = [_row(v.label, summaries[v.name]) for v in variants() if v.name in summaries]
    for name, label in (("random_init", "random-init encoder"), ("raw_pixels", "raw pixels")):
        prefix = f"baseline_{name}_"
        scores = [
            {
                "linear_probe_top1": b.get(prefix + "linear_top1"),
                "mlp_probe_top1": b.get(prefix + "mlp_top1"),
                "knn_top1": b.get(prefix + "knn_top1"),
            }
            for b in baselines
            if any(key.startswith(prefix) for key in b)
        ]
        if scores:
            out.append(_row(label, scores))
    return out


def _cell(value, fmt: str, std=None, scale: float = 1.0) -> str:
    if value is None:
        return "—"
    cell = format(scale * value, fmt)
    return cell if std is None else f"{cell} ± {format(scale * std, fmt)}"


def format_table(table: list[dict]) -> str:
    """The rows as a Markdown table (top-1 in %; mean ± sample std and n where several seeds
    ran)."""
    seeded = any(r.get("n", 1) > 1 for r in table)
    head = "| variant | linear probe | MLP probe | kNN | final loss | train s | img/s |"
    lines = [head + (" n |" if seeded else ""), "| --- " * (7 + seeded) + "|"]
    for r in table:
        pct = [_cell(r[k], ".2f", r.get(f"{k}_std"), 100) for k in COLUMNS[:3]]
        cells = [
            r["variant"],
            *pct,
            _cell(r["final_loss"], ".4f", r.get("final_loss_std")),
            _cell(r["train_seconds"], ".0f"),
            _cell(r["images_per_second"], ",.0f"),
        ]
        lines.append("| " + " | ".join(cells + ([str(r.get("n", 1))] if seeded else [])) + " |")
    return "\n".join(lines)


def ablate(
    base: ConfigDict,
    workdir: str,
    names: list[str] | None = None,
    user_keys=(),
    seeds: list[int] | None = None,
    record_dir: str | None = None,
) -> list[dict]:
    """Runs the variants named (default: all) of `base` under `workdir`, each objective with its
    recipe except for `user_keys` (the keys set on the command line); writes and returns the
    table's rows.

    With `seeds`, every variant and the baselines run once per seed (`config.seed`), seed after
    seed, in `WORKDIR/VARIANT/seedS/` and `WORKDIR/baselines_seedS.json`, and each row gives
    the mean, sample std and n. With `record_dir`, every variant and baseline measured now is
    also written as a results record, `RECORD_DIR/VARIANT/seedS.json` (`natjax.records`), and
    one recorded before is read back from its record, so an ablation resumes from the store
    on any machine (delete a record to measure it again)."""
    chosen = select(names)
    summaries: dict[str, list[dict]] = {v.name: [] for v in chosen}
    baselines = []
    for seed in seeds if seeds is not None else [None]:
        config = seeded(base, seed)
        tail = () if seed is None else (f"seed{seed}",)
        for v in chosen:
            directory = os.path.join(workdir, v.name, *tail)
            summaries[v.name].append(measure(config, v, directory, user_keys, record_dir))
        found = _recorded(record_dir, "baselines", config.seed)
        if found is None:
            file = "baselines.json" if seed is None else f"baselines_seed{seed}.json"
            recorder = _recorder(record_dir, "baselines", config.seed)
            found = run_baselines(config, workdir, file, recorder)
        baselines.append(found)
    table = rows(summaries, baselines)
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "ablation.json"), "w") as f:
            json.dump(table, f, indent=2)
        with open(os.path.join(workdir, "ablation.md"), "w") as f:
            f.write(format_table(table) + "\n")
    return table

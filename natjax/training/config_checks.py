"""Checks of a run config's values, each failing with one sentence that says how to fix it."""

import json

from ml_collections import ConfigDict

from natjax import models, objectives
from natjax.errors import UserError
from natjax.errors import require as _require
from natjax.evaluation import PROTOCOLS
from natjax.models.filters import FILTERS

FINETUNE = "finetune"  # The protocol that trains (natjax.training.finetune).
ALL_PROTOCOLS = (*PROTOCOLS, FINETUNE)


def check_config(c: ConfigDict) -> None:
    """Raises UserError on the first invalid value of `c`."""
    _require(c.batch_size > 0, "batch_size", c.batch_size, "a positive integer")
    _require(c.num_epochs > 0, "num_epochs", c.num_epochs, "a positive integer")
    _require(c.log_every_steps > 0, "log_every_steps", c.log_every_steps, "a positive integer")
    every = c.checkpoint.every_steps
    _require(every >= 0, "checkpoint.every_steps", every, "0 (epoch ends only) or positive")
    _require(c.checkpoint.keep > 0, "checkpoint.keep", c.checkpoint.keep, "a positive integer")
    _require(
        c.model.encoder in models.ENCODERS,
        "model.encoder",
        c.model.encoder,
        f"one of {', '.join(models.ENCODERS)}",
    )
    pools = models.POOLS
    _require(c.model.pool in pools, "model.pool", c.model.pool, " or ".join(pools))
    dtypes = models.DTYPES
    _require(c.model.dtype in dtypes, "model.dtype", c.model.dtype, " or ".join(dtypes))
    _require(c.model.target_dim > 0, "model.target_dim", c.model.target_dim, "positive")
    objectives.check(c)  # The objective's name, and every objective's own settings.
    filters = FILTERS
    _require(c.input.filter in filters, "input.filter", c.input.filter, ", ".join(filters))
    _require(c.optim.name in ("sgd", "adam"), "optim.name", c.optim.name, "sgd or adam")
    _require(c.optim.learning_rate > 0, "optim.learning_rate", c.optim.learning_rate, "positive")
    _require(
        0 <= c.optim.constant_fraction <= 1,
        "optim.constant_fraction",
        c.optim.constant_fraction,
        "between 0 and 1",
    )
    kinds = ("paper", "strong")
    _require(c.input.views in kinds, "input.views", c.input.views, " or ".join(kinds))
    strong = c.input.strong
    _require(0 < strong.min_scale <= 1, "input.strong.min_scale", strong.min_scale, "in (0, 1]")
    for key in ("jitter", "hue"):
        _require(strong[key] >= 0, f"input.strong.{key}", strong[key], ">= 0")
    for key in ("jitter_prob", "grayscale_prob", "blur_prob", "solarize_prob"):
        _require(0 <= strong[key] <= 1, f"input.strong.{key}", strong[key], "between 0 and 1")
    workers = c.data.decode_workers
    _require(workers >= 0, "data.decode_workers", workers, "0 (one per core) or positive")
    _require(c.data.in_memory_gb >= 0, "data.in_memory_gb", c.data.in_memory_gb, ">= 0")
    subsets = ("random", "first")
    _require(c.data.subset in subsets, "data.subset", c.data.subset, " or ".join(subsets))
    _require(c.data.image_size > 0, "data.image_size", c.data.image_size, "positive")
    _require(c.input.crop_padding >= 0, "input.crop_padding", c.input.crop_padding, ">= 0")
    _require(
        0 <= c.input.crop_size <= c.data.image_size + 2 * c.input.crop_padding,
        "input.crop_size",
        c.input.crop_size,
        "0 (the image size) or at most data.image_size + 2 * input.crop_padding",
    )
    _require(c.eval.knn_k > 0, "eval.knn_k", c.eval.knn_k, "a positive integer")
    _require(
        set(c.eval.protocols) <= set(ALL_PROTOCOLS),
        "eval.protocols",
        tuple(c.eval.protocols),
        f"a tuple of {', '.join(ALL_PROTOCOLS)}",
    )
    _check_finetune(c.eval.finetune)
    every = c.eval.monitor_every_epochs
    _require(every >= 0, "eval.monitor_every_epochs", every, "0 (never) or a positive integer")
    for key in ("monitor_train_examples", "monitor_test_examples"):
        _require(c.eval[key] > 0, f"eval.{key}", c.eval[key], "a positive integer")
    _require(c.eval.knn_temperature > 0, "eval.knn_temperature", c.eval.knn_temperature, "positive")


def _check_finetune(ft: ConfigDict) -> None:
    fractions = tuple(ft.label_fractions)
    _require(
        bool(fractions) and all(0 < f <= 1 for f in fractions),
        "eval.finetune.label_fractions",
        fractions,
        "shares of the labels in (0, 1], e.g. (0.01, 0.1, 1.0)",
    )
    for key in ("steps", "batch_size"):
        _require(ft[key] > 0, f"eval.finetune.{key}", ft[key], "a positive integer")
    _require(ft.learning_rate > 0, "eval.finetune.learning_rate", ft.learning_rate, "positive")
    scale = ft.get("encoder_learning_rate_scale", 1.0)
    _require(0 < scale <= 1, "eval.finetune.encoder_learning_rate_scale", scale, "in (0, 1]")
    every = ft.checkpoint_every_steps
    _require(every >= 0, "eval.finetune.checkpoint_every_steps", every, "0 or positive")


def check_batch_fits(batch_size: int, num_examples: int) -> None:
    if batch_size > num_examples:
        raise UserError(
            f"batch_size={batch_size} is larger than the {num_examples} training examples; "
            f"set --config.batch_size to at most {num_examples}."
        )


# Keys that may change when a run resumes: where things are read from, how it reports, and the
# end-of-run evaluation. Every other key changes what is trained.
RESUMABLE_CHANGES = (
    "progress_bar",
    "log_every_steps",
    "checkpoint.",
    "eval.",
    "data.source",
    "data.tfds_data_dir",
    "data.decode_workers",
    "data.in_memory_gb",
)


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _effective(config: dict) -> dict:
    """The flattened keys that decide what is trained: how a subset is drawn matters only
    when there is one (runs saved before `data.subset` existed read as "first")."""
    flat = _flatten(config)
    if not flat.get("data.max_train_examples") and not flat.get("data.max_test_examples"):
        flat.pop("data.subset", None)
        flat.pop("data.subset_seed", None)
    return flat


def check_resume_config(
    saved: dict, config: ConfigDict, workdir: str, allowed: tuple[str, ...] = ()
) -> dict[str, list]:
    """A run resuming in `workdir` must train what the saved run trained (`saved`: the
    config of its checkpoints), but for the keys in `allowed` (`--allow_change`, a key or a
    prefix ending in "."); the others that differ are named. Returns the allowed keys that
    changed: `{key: [old, new]}`."""
    old, new = _effective(saved), _effective(json.loads(config.to_json_best_effort()))
    differ = sorted(
        k
        for k in old.keys() | new.keys()
        if old.get(k) != new.get(k) and not k.startswith(RESUMABLE_CHANGES)
    )
    unknown = [a for a in allowed if not any(_matches(k, a) for k in old.keys() | new.keys())]
    if unknown:
        raise UserError(
            f"--allow_change={','.join(unknown)} names no config key; give keys such as "
            "optim.learning_rate."
        )
    changed = [k for k in differ if not any(_matches(k, a) for a in allowed)]
    if changed:
        diffs = ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
        raise UserError(
            f"--workdir={workdir} holds a run with another config ({diffs}); set these back "
            f"to resume it, resume with them changed on purpose with "
            f"--allow_change={','.join(changed)}, or pass a new --workdir."
        )
    return {k: [old.get(k), new.get(k)] for k in differ}


def _matches(key: str, allowed: str) -> bool:
    return key == allowed or (allowed.endswith(".") and key.startswith(allowed))

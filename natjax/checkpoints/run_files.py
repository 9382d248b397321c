"""The files of a workdir (and of an export) beside its checkpoints: `config.json` (the run's
config as run) and `run.json` (facts of the data it saw), written when a run starts and read by
everything that rebuilds its model: resume, evaluation, export and `load_encoder`. A config saved
by an older natjax reads with the keys added since at the values it ran with
(`upgrade_config`)."""

import functools
import json
import os

import jax
import ml_collections

from natjax.errors import UserError
from natjax.models import create_model
from natjax.objectives import default_settings
from natjax.objectives.state import init_variables
from natjax.views import model_input_shape

CONFIG_FILE = "config.json"
RUN_FILE = "run.json"  # Facts of the data the run saw, e.g. {"image_shape": [28, 28, 1]}.


def _read_json(directory: str, name: str) -> dict:
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        raise UserError(f"{path} is missing; {directory} is not a natjax workdir or export.")
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as e:
        raise UserError(
            f"{path} is garbled ({e}); restore it from a copy, or export or train again."
        ) from e


# Keys added to the config after runs were saved without them: the value those runs used.
_ADDED_KEYS = (
    ("objective", "nat"),
    ("model.dtype", "float32"),
    ("nat.targets", "continuous"),
    ("model.pool", "flatten"),
    ("input.views", "paper"),
    (
        "input.strong",
        {
            "min_scale": 0.2,
            "jitter": 0.4,
            "hue": 0.1,
            "jitter_prob": 0.8,
            "grayscale_prob": 0.2,
            "blur_prob": 0.0,
            "solarize_prob": 0.0,
        },
    ),
    ("data.subset", "first"),
    ("data.decode_workers", 0),
    ("data.in_memory_gb", 2.0),
    ("data.subset_seed", 0),
    (
        "eval.mlp",
        {
            "widths": [512],
            "epochs": 10,
            "batch_size": 256,
            "learning_rate": 1e-3,
            "weight_decay": 1e-4,
        },
    ),
    ("eval.max_feature_bytes", 4 << 30),
    ("eval.minibatch", {"epochs": 5, "batch_size": 256, "learning_rate": 1e-2}),
    ("simclr", {"temperature": 0.5}),
    ("instdisc", {"temperature": 0.07, "momentum": 0.5}),
    ("simsiam", {"predictor_width": 16}),
    ("byol", {"momentum": 0.99, "predictor_width": 256}),
    ("moco", {"queue_size": 4096, "temperature": 0.2, "momentum": 0.99}),
    (
        "swav",
        {"prototypes": 30, "temperature": 0.1, "epsilon": 0.05, "sinkhorn_iterations": 3},
    ),
    ("deepcluster", {"clusters": 100, "kmeans_iterations": 20, "refresh_every": 1}),
    ("instdisc.nce_negatives", 0),
    ("swav.queue_size", 0),
    ("byol.momentum_schedule", "constant"),
    ("swav.small_crops", 0),
    ("swav.small_crop_size", 0),
    ("swav.small_crop_scale", [0.05, 0.14]),
    ("deepcluster.pca_dim", 0),
    ("model.projection_widths", []),
    (
        "eval.finetune",
        {
            "label_fractions": [0.01, 0.1, 1.0],
            "steps": 500,
            "batch_size": 128,
            "learning_rate": 0.01,
            "checkpoint_every_steps": 0,
        },
    ),
)


def upgrade_config(saved: dict) -> dict:
    """A saved run's config with the keys later versions read: `_ADDED_KEYS` at their old
    values, `input.sobel` (true/false) as `input.filter` (sobel/raw), `nat.solver`'s
    `auction_pallas` by its name since three Pallas kernels exist (`auction_triton`),
    `eval.linear` from the keys that held it, and the settings of objectives added since at
    their defaults."""
    saved = json.loads(json.dumps(saved))  # A deep copy.
    if "sobel" in saved.get("input", {}):
        saved["input"]["filter"] = "sobel" if saved["input"].pop("sobel") else "raw"
    if saved.get("nat", {}).get("solver") == "auction_pallas":
        saved["nat"]["solver"] = "auction_triton"
    for key, value in _ADDED_KEYS:
        *path, last = key.split(".")
        node = saved
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault(last, value)
    _upgrade_eval(saved.setdefault("eval", {}))
    for name, section in default_settings().items():  # Objectives added later: never run.
        saved.setdefault(name, section.to_dict())
    return saved


def _upgrade_eval(saved_eval: dict) -> None:
    """`eval.linear` from the settings that held it before (`eval.minibatch`, `eval.probe_l2`):
    the one linear probe's minibatch schedule and penalty."""
    if "linear" not in saved_eval:
        minibatch = saved_eval.get(
            "minibatch", {"epochs": 5, "batch_size": 256, "learning_rate": 1e-2}
        )
        saved_eval["linear"] = {**minibatch, "l2": saved_eval.get("probe_l2", 1e-4)}


def read_run(directory: str) -> tuple[ml_collections.ConfigDict, tuple[int, ...]]:
    """The run's config (upgraded: `config.json`, else the newest checkpoint's copy) and the
    shape of the images it saw."""
    try:
        saved = _read_json(directory, CONFIG_FILE)
    except UserError:  # A workdir's checkpoints hold the config too: were config.json lost.
        has_checkpoints = os.path.isdir(os.path.join(directory, "checkpoints"))
        saved = checkpoint_config(directory) if has_checkpoints else None
        if saved is None:
            raise
    config = ml_collections.ConfigDict(upgrade_config(saved))
    return config, tuple(_read_json(directory, RUN_FILE)["image_shape"])


def abstract_variables(config: ml_collections.ConfigDict, image_shape) -> dict:
    """Shapes of the model's variables, placed on this process's first device."""
    model = create_model(config)
    input_shape = model_input_shape(tuple(image_shape), config.input.crop_size)
    init = functools.partial(init_variables, model, input_shape=input_shape)
    shapes = jax.eval_shape(init, jax.random.PRNGKey(0))
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device), shapes)


def write_run(
    workdir: str, config: ml_collections.ConfigDict, dataset, changes: dict | None = None
) -> None:
    """Creates `workdir` with `config.json` and `run.json` (process 0 writes them). `run.json`
    keeps the config changes allowed at each resume (`changes`: `{"step": S, "keys": {key:
    [old, new]}}`, appended to those recorded before)."""
    facts = {
        "image_shape": list(dataset.image_shape),
        "num_classes": dataset.num_classes,
        "num_train_examples": len(dataset.train),
    }
    history = _earlier_changes(workdir) + ([changes] if changes else [])
    if history:
        facts["allowed_changes"] = history
    try:
        os.makedirs(workdir, exist_ok=True)
        if jax.process_index() == 0:
            with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
                f.write(config.to_json_best_effort(indent=2))
            with open(os.path.join(workdir, RUN_FILE), "w") as f:
                json.dump(facts, f, indent=2)
    except OSError as e:
        raise UserError(
            f"Cannot write to --workdir={workdir} ({e.strerror}); pass a writable directory."
        ) from e


def _earlier_changes(workdir: str) -> list:
    try:
        with open(os.path.join(workdir, RUN_FILE)) as f:
            return list(json.load(f).get("allowed_changes", []))
    except (OSError, ValueError, AttributeError):
        return []


def saved_config(workdir: str) -> dict | None:
    """The upgraded config of the run whose checkpoints `workdir` holds, else None: the one
    saved inside its newest checkpoint that reads (what that state was trained with), else
    `config.json`. Plain file reads: every host decides alike, and no host starts an Orbax
    collective the others do not join."""
    if not os.path.isdir(os.path.join(workdir, "checkpoints")):
        return None
    saved = checkpoint_config(workdir)
    if saved is None and os.path.exists(os.path.join(workdir, CONFIG_FILE)):
        saved = _read_json(workdir, CONFIG_FILE)
    return None if saved is None else upgrade_config(saved)


def checkpoint_config(workdir: str) -> dict | None:
    """The config saved in the newest checkpoint of `workdir` whose copy reads (Orbax's
    `config` item, a JSON file), or None."""
    directory = os.path.join(workdir, "checkpoints")
    steps = sorted((int(n) for n in os.listdir(directory) if n.isdigit()), reverse=True)
    for step in steps:
        try:
            with open(os.path.join(directory, str(step), "config", "metadata")) as f:
                saved = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(saved, dict) and saved:
            return saved
    return None

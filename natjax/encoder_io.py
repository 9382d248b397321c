"""An encoder as a standalone artifact: `export` writes it, `load_encoder` reads it back.

An export holds `encoder/` (an Orbax checkpoint of params and batch-norm statistics),
`config.json` and `run.json`; loading it needs no training code or training state.
"""

import functools
import json
import os
import shutil
from collections.abc import Callable

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from natjax import checkpointing, features
from natjax.errors import UserError
from natjax.models import create_model
from natjax.preprocess import model_input_shape
from natjax.state import init_variables

_ENCODER_DIR = "encoder"
_CONFIG_FILE = "config.json"
_RUN_FILE = "run.json"  # Facts of the data the run saw, e.g. {"image_shape": [28, 28, 1]}.


def _read_json(directory: str, name: str) -> dict:
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        raise UserError(f"{path} is missing; {directory} is not a natjax workdir or export.")
    with open(path) as f:
        return json.load(f)


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
)


def upgrade_config(saved: dict) -> dict:
    """A saved run's config with the keys later versions read: `_ADDED_KEYS` at their old
    values, and `input.sobel` (true/false) as `input.filter` (sobel/raw)."""
    saved = json.loads(json.dumps(saved))  # A deep copy.
    if "sobel" in saved.get("input", {}):
        saved["input"]["filter"] = "sobel" if saved["input"].pop("sobel") else "raw"
    for key, value in _ADDED_KEYS:
        *path, last = key.split(".")
        node = saved
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault(last, value)
    return saved


def read_run(directory: str) -> tuple[ml_collections.ConfigDict, tuple[int, ...]]:
    config = ml_collections.ConfigDict(upgrade_config(_read_json(directory, _CONFIG_FILE)))
    return config, tuple(_read_json(directory, _RUN_FILE)["image_shape"])


def abstract_variables(config: ml_collections.ConfigDict, image_shape) -> dict:
    """Shapes of the model's variables, placed on this process's first device."""
    model = create_model(config)
    input_shape = model_input_shape(tuple(image_shape), config.input.crop_size)
    init = functools.partial(init_variables, model, input_shape=input_shape)
    shapes = jax.eval_shape(init, jax.random.PRNGKey(0))
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device), shapes)


def export(workdir: str, out: str, step: int | None = None) -> str:
    """Writes the encoder of `workdir` (latest checkpoint, or `step`) to `out`; returns `out`."""
    config, image_shape = read_run(workdir)
    variables = checkpointing.restore_model(workdir, step, abstract_variables(config, image_shape))
    out = os.path.abspath(out)
    if os.path.exists(os.path.join(out, _ENCODER_DIR)):
        raise UserError(f"{out} already holds an export; choose another --out or delete it.")
    os.makedirs(out, exist_ok=True)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(os.path.join(out, _ENCODER_DIR), variables)
    for name in (_CONFIG_FILE, _RUN_FILE):
        shutil.copy(os.path.join(workdir, name), os.path.join(out, name))
    return out


def load_encoder(path: str, batch_size: int = 1024) -> Callable[[np.ndarray], np.ndarray]:
    """`encode(images)`: uint8 `[N, H, W, C]` to float32 features `[N, D]`, from an export."""
    config, image_shape = read_run(path)
    with ocp.StandardCheckpointer() as ckptr:
        try:
            variables = ckptr.restore(
                os.path.join(os.path.abspath(path), _ENCODER_DIR),
                abstract_variables(config, image_shape),
            )
        except (FileNotFoundError, ValueError) as e:
            raise UserError(f"{path} holds no readable encoder ({e}); export it again.") from e
    crop = model_input_shape(image_shape, config.input.crop_size)[0]
    encode_fn = features.make_encode_fn(create_model(config), crop)  # Compiled on first call.

    def encode(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != image_shape:
            expected = ", ".join(map(str, image_shape))
            raise ValueError(
                f"encode takes uint8 images [N, {expected}]; got {images.dtype} {images.shape}."
            )
        return features.extract(encode_fn, variables, images, batch_size)

    return encode

"""Evaluation of a frozen encoder by protocol: `linear` (the probe), `mlp` (the paper's MLP
classifier on the frozen convolutional features), `knn` (weighted kNN), `layers` (the linear
probe on every convolutional stage and on the NAT output, each pooled to at most
`eval.layer_dims` dimensions) and `baselines` (the random-init encoder and raw pixels, under
the linear probe and whichever of mlp and knn are asked for too)."""

import json
import os

import jax
import numpy as np
from ml_collections import ConfigDict

from natjax import checkpointing, data, features, preprocess, probes
from natjax.data import Dataset
from natjax.encoder_io import abstract_variables, read_run
from natjax.errors import UserError
from natjax.models import NATModel, create_model
from natjax.state import init_variables, split_seed

_MAX_RAW_PIXEL_DIMS = 16384  # Raw-pixel probes above this size (e.g. ImageNet) are skipped.
PROTOCOLS = ("linear", "mlp", "knn", "layers", "baselines")


def _probe(train_x, test_x, dataset: Dataset, config: ConfigDict) -> float:
    return probes.linear_probe_top1(
        train_x,
        dataset.train.labels,
        test_x,
        dataset.test.labels,
        dataset.num_classes,
        steps=config.eval.probe_steps,
        l2=config.eval.probe_l2,
    )


def _features(model, variables, dataset, config, crop) -> tuple[np.ndarray, np.ndarray]:
    fn = features.make_encode_fn(model, crop)
    return tuple(
        features.extract(fn, variables, split.images, config.eval.batch_size)
        for split in (dataset.train, dataset.test)
    )


def _scores(train_x, test_x, dataset: Dataset, config: ConfigDict, protocols) -> dict:
    """Top-1 of features `[n, D]` under each of `protocols` among linear, mlp and knn."""
    results = {}
    if "linear" in protocols:
        results["linear_probe_top1"] = _probe(train_x, test_x, dataset, config)
    if "mlp" in protocols:
        mlp = config.eval.mlp
        results["mlp_probe_top1"] = probes.mlp_probe_top1(
            train_x,
            dataset.train.labels,
            test_x,
            dataset.test.labels,
            dataset.num_classes,
            widths=tuple(mlp.widths),
            epochs=mlp.epochs,
            batch_size=mlp.batch_size,
            learning_rate=mlp.learning_rate,
            weight_decay=mlp.weight_decay,
            seed=config.seed,
        )
    if "knn" in protocols:
        results["knn_top1"] = probes.knn_top1(
            train_x,
            dataset.train.labels,
            test_x,
            dataset.test.labels,
            dataset.num_classes,
            k=config.eval.knn_k,
            temperature=config.eval.knn_temperature,
        )
    return results


def evaluate(
    config: ConfigDict,
    model: NATModel,
    variables: dict,
    init_variables: dict,
    dataset: Dataset,
    crop_size: int,
    protocols: tuple[str, ...] = PROTOCOLS,
) -> dict:
    """Top-1 of the trained encoder (on centre `crop_size` views) under each of `protocols`;
    `baselines` runs only where `config.eval.baselines` is set."""
    train_x, test_x = _features(model, variables, dataset, config, crop_size)
    results = {"feature_dim": int(train_x.shape[1])}
    results.update(_scores(train_x, test_x, dataset, config, protocols))
    if "layers" in protocols:
        results.update(_layer_probes(config, model, variables, dataset, crop_size))
    if "baselines" in protocols and config.eval.baselines:
        results.update(baselines(config, model, init_variables, dataset, crop_size, protocols))
    return results


def _layer_probes(config, model, variables, dataset, crop_size) -> dict:
    fn = features.make_layers_fn(model, crop_size, config.eval.layer_dims)
    train, test = (
        features.extract(fn, variables, split.images, config.eval.batch_size)
        for split in (dataset.train, dataset.test)
    )
    return {
        f"layer_{name}_linear_top1": _probe(train[name], test[name], dataset, config)
        for name in train
    }


_BASELINE_KEYS = {"linear_probe_top1": "linear_top1", "mlp_probe_top1": "mlp_top1"}


def baselines(config, model, init_variables, dataset, crop_size, protocols=("linear",)) -> dict:
    """The random-init encoder and raw pixels under the linear, mlp and knn protocols among
    `protocols` (the linear probe at least): `baseline_{random_init,raw_pixels}_PROTOCOL_top1`."""
    measured = [p for p in ("linear", "mlp", "knn") if p in protocols] or ["linear"]
    sources = {"random_init": _features(model, init_variables, dataset, config, crop_size)}
    dims = int(np.prod(dataset.image_shape))
    if dims <= _MAX_RAW_PIXEL_DIMS:
        sources["raw_pixels"] = [
            np.asarray(s.images, np.float32).reshape(len(s), dims) / 255.0
            for s in (dataset.train, dataset.test)
        ]
    return {
        f"baseline_{name}_{_BASELINE_KEYS.get(key, key)}": value
        for name, (train_x, test_x) in sources.items()
        for key, value in _scores(train_x, test_x, dataset, config, measured).items()
    }


def _initial(config, model, dataset) -> tuple[dict, int]:
    """The run's step-0 variables and its evaluation crop."""
    input_shape = preprocess.model_input_shape(dataset.image_shape, config.input.crop_size)
    return init_variables(model, split_seed(config.seed)[0], input_shape), input_shape[0]


def evaluate_model(config, model, variables, dataset, protocols=None) -> dict:
    """`evaluation.evaluate` with the run's own views and random-init baseline, under
    `protocols` (default: the config's `eval.protocols`)."""
    protocols = tuple(config.eval.protocols) if protocols is None else protocols
    fresh, crop = _initial(config, model, dataset)
    return evaluate(config, model, variables, fresh, dataset, crop, tuple(protocols))


def evaluate_baselines(config: ConfigDict, protocols=("linear", "mlp", "knn")) -> dict:
    """`baselines` of the run `config` describes, without training it."""
    dataset = data.load(config.data)
    model = create_model(config)
    fresh, crop = _initial(config, model, dataset)
    return baselines(config, model, fresh, dataset, crop, protocols)


def write_results(workdir: str, step: int, results: dict) -> str:
    """`DIR/eval/step_STEP.json` (process 0 only); returns its path."""
    path = os.path.join(workdir, "eval", f"step_{step}.json")
    if jax.process_index() == 0:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"step": step, **results}, f, indent=2)
    return path


def evaluate_checkpoint(workdir: str, step: int | None = None, protocols=None):
    """Evaluates the checkpoint at `step` (default: the latest) of `workdir` under `protocols`
    (default: the run's); writes and returns its results."""
    unknown = sorted(set(protocols or ()) - set(PROTOCOLS))
    if unknown:
        raise UserError(
            f"unknown --protocol {', '.join(unknown)}; use any of {', '.join(PROTOCOLS)}."
        )
    config, image_shape = read_run(workdir)
    variables = checkpointing.restore_model(workdir, step, abstract_variables(config, image_shape))
    step = step if step is not None else checkpointing.latest_step(workdir)
    results = evaluate_model(
        config, create_model(config), variables, data.load(config.data), protocols
    )
    write_results(workdir, step, results)
    return step, results

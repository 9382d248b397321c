"""Evaluation of a frozen encoder by protocol: `linear` (the probe), `mlp` (the paper's MLP
classifier on the frozen convolutional features), `knn` (weighted kNN), `layers` (the linear
probe on every convolutional stage and on the NAT output, each pooled to at most
`eval.layer_dims` dimensions) and `baselines` (the random-init encoder and raw pixels, under
the linear probe and whichever of mlp and knn are asked for too).

Features are made on every device of the mesh, a chunk at a time (`natjax.feature_stream`).
Training features of at most `eval.max_feature_bytes` are gathered in memory and probed by
`natjax.probes` (the linear probe by full-batch L-BFGS); larger ones stay a stream, probed by
`natjax.streamed_probes` (the linear probe by minibatch Adam). `linear_probe_solver` in the
results says which ran."""

import json
import os

import jax
import numpy as np
from ml_collections import ConfigDict

from natjax import checkpointing, data, feature_stream, features, preprocess, probes, sharding
from natjax import streamed_probes as streamed
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


def _streams(fn, variables, dataset: Dataset, config: ConfigDict) -> list:
    """The train and test splits' features under `fn(variables, images)`, as streams."""
    mesh = sharding.make_mesh()
    chunk = feature_stream.chunk_size(config.eval.batch_size, mesh.devices.size)
    return [
        feature_stream.encoder_stream(fn, variables, split, chunk, mesh)
        for split in (dataset.train, dataset.test)
    ]


def is_streamed(stream: feature_stream.FeatureStream, config: ConfigDict) -> bool:
    """Whether training features of this size are streamed rather than held in memory."""
    return stream.nbytes > config.eval.max_feature_bytes


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


def _streamed_scores(train, test, dataset: Dataset, config: ConfigDict, protocols) -> dict:
    """`_scores` of two feature streams, by `natjax.streamed_probes`."""
    results, e = {}, config.eval
    if "linear" in protocols:
        results["linear_probe_top1"] = streamed.linear_probe_top1(
            train, test, dataset.num_classes, l2=e.probe_l2, seed=config.seed, **e.minibatch
        )
    if "mlp" in protocols:
        results["mlp_probe_top1"] = streamed.mlp_probe_top1(
            train,
            test,
            dataset.num_classes,
            seed=config.seed,
            **{**e.mlp, "widths": tuple(e.mlp.widths)},
        )
    if "knn" in protocols:
        results["knn_top1"] = streamed.knn_top1(
            train, test, dataset.num_classes, k=e.knn_k, temperature=e.knn_temperature
        )
    return results


def _stream_scores(streams, streamed_mode, dataset, config, protocols) -> dict:
    """`_scores` of the features of `streams` (train, test): gathered, or streamed."""
    if streamed_mode:
        return _streamed_scores(*streams, dataset, config, protocols)
    return _scores(*(s.gather() for s in streams), dataset, config, protocols)


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
    `baselines` runs only where `config.eval.baselines` is set. The representation's size
    decides, once for every probe, whether features are held in memory or streamed."""
    streams = _streams(features.make_encode_fn(model, crop_size), variables, dataset, config)
    mode = is_streamed(streams[0], config)
    results = {"feature_dim": streams[0].dim}
    results.update(_stream_scores(streams, mode, dataset, config, protocols))
    if "layers" in protocols:
        results.update(_layer_probes(config, model, variables, dataset, crop_size, mode))
    if "baselines" in protocols and config.eval.baselines:
        results.update(
            baselines(config, model, init_variables, dataset, crop_size, protocols, mode)
        )
    if {"linear", "layers", "baselines"} & set(protocols):
        results["linear_probe_solver"] = "minibatch" if mode else "lbfgs"
    return results


def _layer_probes(config, model, variables, dataset, crop_size, streamed_mode) -> dict:
    fn = features.make_layers_fn(model, crop_size, config.eval.layer_dims)
    train, test = _streams(fn, variables, dataset, config)
    if not streamed_mode:
        train, test = train.gather(), test.gather()
        return {
            f"layer_{name}_linear_top1": _probe(train[name], test[name], dataset, config)
            for name in train
        }
    return {
        f"layer_{name}_linear_top1": _streamed_scores(
            *(s.map(lambda d, name=name: d[name]) for s in (train, test)),
            dataset,
            config,
            ("linear",),
        )["linear_probe_top1"]
        for name in train.spec
    }


_BASELINE_KEYS = {"linear_probe_top1": "linear_top1", "mlp_probe_top1": "mlp_top1"}


def baselines(
    config, model, init_variables, dataset, crop_size, protocols=("linear",), streamed_mode=None
) -> dict:
    """The random-init encoder and raw pixels under the linear, mlp and knn protocols among
    `protocols` (the linear probe at least): `baseline_{random_init,raw_pixels}_PROTOCOL_top1`.
    Streamed where `streamed_mode` says (default: where the random-init features' size says)."""
    measured = [p for p in ("linear", "mlp", "knn") if p in protocols] or ["linear"]
    fn = features.make_encode_fn(model, crop_size)
    sources = {"random_init": _streams(fn, init_variables, dataset, config)}
    if streamed_mode is None:
        streamed_mode = is_streamed(sources["random_init"][0], config)
    dims = int(np.prod(dataset.image_shape))
    if dims <= _MAX_RAW_PIXEL_DIMS:
        sources["raw_pixels"] = _pixels(dataset, sources["random_init"][0])
    return {
        f"baseline_{name}_{_BASELINE_KEYS.get(key, key)}": value
        for name, streams in sources.items()
        for key, value in _stream_scores(streams, streamed_mode, dataset, config, measured).items()
    }


def _pixels(dataset: Dataset, like: feature_stream.FeatureStream) -> list:
    """Raw pixels in [0, 1] of the train and test splits, as streams on the mesh of `like`."""
    return [
        feature_stream.pixel_stream(s, like.chunk, like.mesh) for s in (dataset.train, dataset.test)
    ]


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

"""Evaluation of a frozen encoder by protocol: `linear` (the linear probe), `mlp` (the paper's
MLP classifier on the frozen convolutional features), `knn` (weighted kNN), `layers` (the
linear probe on every convolutional stage and on the NAT output) and `baselines` (the
random-init encoder and raw pixels, under the linear probe and whichever of mlp and knn are
asked for too).

Features are made on every device of the mesh, a chunk at a time (`natjax.evaluation.stream`).
Training features of at most `eval.max_feature_bytes` are computed once and held in host
memory; larger ones are re-encoded on every pass. Each protocol runs one algorithm on either,
so the figures do not depend on that memory setting; `features_in_memory` in the results says
which ran.
"""

import dataclasses
import logging

from ml_collections import ConfigDict

from natjax import checkpoints, data
from natjax.data import Dataset
from natjax.errors import UserError
from natjax.evaluation import baselines, layers, linear, multilabel
from natjax.evaluation.results import write_results
from natjax.evaluation.scores import CLASSIFIERS, fits, scores
from natjax.evaluation.stream import dataset_streams, hold
from natjax.models import NATModel, create_model, features
from natjax.objectives.state import init_variables, split_seed
from natjax.views import model_input_shape

PROTOCOLS = ("linear", "mlp", "knn", "layers", "baselines")


def evaluate(
    config: ConfigDict,
    model: NATModel,
    variables: dict,
    init_variables: dict,
    dataset: Dataset,
    crop_size: int,
    protocols: tuple[str, ...] = PROTOCOLS,
) -> dict:
    """Top-1 of a frozen encoder under each of `protocols`.

    Args:
      config: the run's config (`eval.*` holds the protocols' settings).
      model: the network; its representation (the encoder's output) is probed.
      variables: its trained `params` and `batch_stats`.
      init_variables: its step-0 variables, for the random-init baseline.
      dataset: the labelled train and test splits.
      crop_size: the side of the centre view the encoder sees.
      protocols: any of `PROTOCOLS`; `baselines` runs only where `config.eval.baselines` is set.

    Returns:
      `{"feature_dim": D, "linear_probe_top1": ..., ...}`, one entry per figure, and
      `features_in_memory`: whether the features were held in memory or re-encoded per pass
      (the size of the representation decides, once for every protocol).
    """
    if dataset.multilabel:
        return _evaluate_multilabel(config, model, variables, init_variables, dataset, crop_size)
    fn = features.make_encode_fn(model, crop_size)
    streams = dataset_streams(fn, variables, dataset, config.eval.batch_size)
    in_memory = fits(streams[0], config)
    results = {"feature_dim": streams[0].dim}
    found = scores(*hold(streams, in_memory), dataset.num_classes, config, protocols)
    results.update({CLASSIFIERS[name].RESULT: value for name, value in found.items()})
    if "layers" in protocols:
        results.update(layers.top1s(config, model, variables, dataset, crop_size, in_memory))
    if "baselines" in protocols and config.eval.baselines:
        results.update(
            baselines.top1s(config, model, init_variables, dataset, crop_size, protocols, in_memory)
        )
    results["features_in_memory"] = in_memory
    return results


def _evaluate_multilabel(config, model, variables, init_variables, dataset, crop_size) -> dict:
    """A multi-label dataset's figures: the multi-label linear probe's mAP on the encoder and,
    where `eval.baselines` is set, on the random-init encoder and raw pixels (`multilabel`)."""
    fn = features.make_encode_fn(model, crop_size)
    streams = dataset_streams(fn, variables, dataset, config.eval.batch_size)
    in_memory = fits(streams[0], config)
    settings = linear.settings(config)
    results = {"feature_dim": streams[0].dim}
    results[multilabel.RESULT] = multilabel.linear_map(
        *hold(streams, in_memory), dataset.num_classes, **settings
    )
    if config.eval.baselines:
        for name, pair in baselines.streams(config, fn, init_variables, dataset).items():
            results[f"baseline_{name}_linear_map"] = multilabel.linear_map(
                *hold(pair, in_memory), dataset.num_classes, **settings
            )
    logging.info("A multi-label dataset: mAP of the linear probe (kNN, MLP and layers skipped).")
    results["features_in_memory"] = in_memory
    return results


def initial_variables(config: ConfigDict, model: NATModel, dataset: Dataset) -> tuple[dict, int]:
    """The run's step-0 variables and its evaluation crop."""
    input_shape = model_input_shape(dataset.image_shape, config.input.crop_size)
    return init_variables(model, split_seed(config.seed)[0], input_shape), input_shape[0]


def evaluate_model(config, model, variables, dataset, protocols=None) -> dict:
    """`evaluate` with the run's own views and random-init baseline, under `protocols`
    (default: the config's `eval.protocols`)."""
    protocols = tuple(config.eval.protocols) if protocols is None else protocols
    fresh, crop = initial_variables(config, model, dataset)
    return evaluate(config, model, variables, fresh, dataset, crop, tuple(protocols))


def evaluate_baselines(config: ConfigDict, protocols=("linear", "mlp", "knn")) -> dict:
    """The baselines of the run `config` describes, without training it."""
    dataset = data.load(config.data)
    model = create_model(config)
    fresh, crop = initial_variables(config, model, dataset)
    return baselines.top1s(config, model, fresh, dataset, crop, protocols, None)


def evaluate_checkpoint(
    workdir: str, step: int | None = None, protocols=None, data_config: ConfigDict | None = None
):
    """Evaluates the checkpoint at `step` (default: the latest) of `workdir` under `protocols`
    (default: the run's), on the run's data or, for transfer, on `data_config`'s (`transfer`);
    writes and returns `(step, results)`."""
    unknown = sorted(set(protocols or ()) - set(PROTOCOLS))
    if unknown:
        raise UserError(
            f"unknown --protocol {', '.join(unknown)}; use any of {', '.join(PROTOCOLS)}."
        )
    config, image_shape = checkpoints.read_run(workdir)
    like = checkpoints.abstract_variables(config, image_shape)
    variables = checkpoints.restore_model(workdir, step, like)
    step = step if step is not None else checkpoints.latest_step(workdir)
    dataset = transfer(data_config, image_shape) if data_config else data.load(config.data)
    results = evaluate_model(config, create_model(config), variables, dataset, protocols)
    write_results(workdir, step, results, data_config and data_config.name)
    return step, results


def transfer(data_config: ConfigDict, image_shape: tuple[int, ...]) -> Dataset:
    """Another dataset (`data_config`, a config's `data`) as the run's encoder sees its input:
    its images resized to `image_shape`'s side and given its channels; its labels checked."""
    dataset = data.convert_dataset(data.load(data_config), tuple(image_shape))
    dataset = dataclasses.replace(dataset, name=data_config.name)
    data.check_labelled(dataset)
    return dataset

"""The baselines every figure is read against: the same encoder at random initialisation, and
raw pixels, under the same protocols."""

import numpy as np
from ml_collections import ConfigDict

from natjax.evaluation.scores import CLASSIFIERS, fits, scores
from natjax.evaluation.stream import dataset_streams, hold, pixel_stream
from natjax.models import features

MAX_RAW_PIXEL_DIMS = 16384  # Raw-pixel probes above this size (e.g. ImageNet) are skipped.
_KEYS = {"linear": "linear_top1", "mlp": "mlp_top1", "knn": "knn_top1"}


def top1s(
    config: ConfigDict, model, init_variables, dataset, crop_size: int, protocols, in_memory
) -> dict:
    """The random-init encoder and raw pixels under the linear, mlp and knn protocols among
    `protocols` (the linear probe at least): `baseline_{random_init,raw_pixels}_PROTOCOL_top1`;
    features held in memory or streamed as `in_memory` says (None: as the random-init features'
    size says, by `fits`)."""
    measured = [p for p in CLASSIFIERS if p in protocols] or ["linear"]
    fn = features.make_encode_fn(model, crop_size)
    sources = streams(config, fn, init_variables, dataset)
    if in_memory is None:
        in_memory = fits(sources["random_init"][0], config)
    return {
        f"baseline_{name}_{_KEYS[protocol]}": value
        for name, streams in sources.items()
        for protocol, value in scores(
            *hold(streams, in_memory), dataset.num_classes, config, measured
        ).items()
    }


def streams(config: ConfigDict, encode_fn, init_variables, dataset) -> dict:
    """`{"random_init": (train, test), "raw_pixels": (train, test)}`: the random-init encoder's
    feature streams, and raw pixels' where an image has at most `MAX_RAW_PIXEL_DIMS` values."""
    sources = {
        "random_init": dataset_streams(encode_fn, init_variables, dataset, config.eval.batch_size)
    }
    if int(np.prod(dataset.image_shape)) <= MAX_RAW_PIXEL_DIMS:
        like = sources["random_init"][0]
        sources["raw_pixels"] = tuple(
            pixel_stream(s, like.chunk, like.mesh) for s in (dataset.train, dataset.test)
        )
    return sources

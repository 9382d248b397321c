"""The baselines (`natjax.evaluation.baselines`): the random-init encoder and raw pixels under
the protocols asked for, the linear probe at least; no raw-pixel probe of large images."""

import jax
import numpy as np

from natjax import data
from natjax.data import Dataset, Split
from natjax.evaluation import baselines
from natjax.models import create_model
from natjax.objectives.state import init_variables
from tests.helpers import tiny_config


def _setup(tmp_path):
    config = tiny_config(str(tmp_path))
    model = create_model(config)
    return config, model, init_variables(model, jax.random.key(0), (12, 12, 1))


def test_the_linear_probe_at_least_and_the_other_protocols_asked_for(tmp_path):
    config, model, fresh = _setup(tmp_path)
    dataset = data.load(config.data)
    results = baselines.top1s(config, model, fresh, dataset, 12, ("baselines",), True)
    assert set(results) == {"baseline_random_init_linear_top1", "baseline_raw_pixels_linear_top1"}
    knn = baselines.top1s(config, model, fresh, dataset, 12, ("knn", "layers"), None)
    assert set(knn) == {"baseline_random_init_knn_top1", "baseline_raw_pixels_knn_top1"}
    streamed = baselines.top1s(config, model, fresh, dataset, 12, ("knn",), False)
    assert streamed == knn  # Held or streamed: the same figures.


def test_raw_pixels_of_large_images_are_not_probed(tmp_path):
    config, model, fresh = _setup(tmp_path)
    side = int(np.sqrt(baselines.MAX_RAW_PIXEL_DIMS)) + 1  # One channel, just over the limit.
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 255, (8, side, side, 1)).astype(np.uint8), np.arange(8) % 2)
    config.eval.knn_k = 3
    results = baselines.top1s(config, model, fresh, Dataset("big", split, split, 2), 12, (), True)
    assert set(results) == {"baseline_random_init_linear_top1"}

"""docs/objectives.md's worked example, taken from the page: an objective defined outside
natjax's tree, registered, checked, and trained on the `:smoke` preset by the harness."""

import json
import math
import os
import re
import types

import numpy as np
import pytest

from natjax import objectives
from natjax.errors import UserError
from tests.helpers import ROOT

PAGE = os.path.join(ROOT, "docs", "objectives.md")


def example_module() -> types.ModuleType:
    """The page's first Python block, as the module `align_uniform`."""
    with open(PAGE) as f:
        code = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
    module = types.ModuleType("align_uniform")
    exec(compile(code, PAGE, "exec"), module.__dict__)  # noqa: S102 (our own docs' code)
    return module


@pytest.fixture
def registered():
    module = example_module()
    objectives.register(module.SPEC)
    yield module
    del objectives.REGISTRY[module.SPEC.name]


def smoke_config():
    from configs.nat import get_config

    return get_config("smoke")


def test_its_settings_reach_the_config_and_a_bad_one_is_one_sentence(registered):
    config = smoke_config()
    assert config.align_uniform.to_dict() == {"t": 2.0, "weight": 1.0}
    config.objective = "align_uniform"
    config.align_uniform.t = 0.0
    with pytest.raises(UserError, match=r"^--config.align_uniform.t=0.0 is invalid: it must "):
        objectives.check(config)


def test_its_loss_is_alignment_plus_the_log_mean_potential(registered):
    rng = np.random.default_rng(0)
    out = rng.normal(size=(6, 4)).astype(np.float32)
    z = out / np.linalg.norm(out, axis=1, keepdims=True)
    align = np.mean(np.sum((z[:3] - z[3:]) ** 2, 1))
    d = np.sum((z[:, None] - z[None]) ** 2, -1)
    potential = np.exp(-2.0 * d)[~np.eye(6, dtype=bool)].mean()
    expected = align + 0.5 * np.log(potential)
    assert float(registered.loss(out, 2.0, 0.5)) == pytest.approx(expected, rel=1e-5)


def test_its_recipe_applies_to_the_keys_the_user_left(registered):
    config = smoke_config()
    config.objective = "align_uniform"
    chosen = objectives.apply_recipe(config, ["objective", "optim.learning_rate"])
    assert (chosen.optim.name, chosen.optim.learning_rate) == ("adam", 0.05)


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_it_trains_on_the_smoke_preset(registered, tmp_path):
    from natjax.training import train_and_evaluate

    config = smoke_config()
    config.objective = "align_uniform"
    config.progress_bar = False
    config = objectives.apply_recipe(config, ["objective"])
    summary = train_and_evaluate(config, str(tmp_path))
    assert math.isfinite(summary["final_loss"]) and summary["steps"] == 32
    assert 0.1 < summary["knn_top1"] <= 1 and 0.1 < summary["linear_probe_top1"] <= 1
    with open(tmp_path / "config.json") as f:
        saved = json.load(f)
    assert saved["objective"] == "align_uniform" and saved["optim"]["name"] == "adam"
    assert saved["model"]["head_widths"] == list(config.model.projection_widths)

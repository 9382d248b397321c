"""The registry (`natjax.objectives.registry`): an objective a user adds (its own module, a
`Spec`, one `register` call) is checked, configured, given its recipe, trained and evaluated
like the built-in ones; recipes leave the user's keys alone; unknown names are one sentence."""

import dataclasses
import json
import os

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from configs.nat import get_config
from natjax import checkpoints, objectives, training
from natjax.errors import UserError, require
from natjax.models.layers import l2_normalize
from natjax.objectives import Objective, Spec
from natjax.objectives.base import two_views
from natjax.parallel import sharding
from natjax.training import ablation
from natjax.training.config_checks import check_config
from tests.helpers import tiny_config

# A user's objective, written as natjax's own are: alignment and uniformity (Wang and Isola,
# 2020) of two strong views' unit projections.


def defaults() -> ml_collections.ConfigDict:
    """`config.align_uniform`."""
    c = ml_collections.ConfigDict()
    c.temperature = 2.0  # The uniformity term's t.
    c.weight = 1.0  # The uniformity term's weight.
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    temperature: float
    weight: float


def check(config) -> None:
    c = config.align_uniform
    require(c.temperature > 0, "align_uniform.temperature", c.temperature, "positive")
    require(c.weight >= 0, "align_uniform.weight", c.weight, ">= 0")


def align_uniform(out, settings: Settings):
    """The mean square distance of each image's two unit views, plus `weight` times the log
    mean Gaussian potential `exp(-t |z_i - z_j|^2)` over the other pairs of views."""
    z = l2_normalize(out)
    z1, z2 = jnp.split(z, 2)
    align = jnp.mean(jnp.sum(jnp.square(z1 - z2), -1))
    n = len(z)
    squared = jnp.sum(jnp.square(z[:, None] - z[None]), -1)  # [2b, 2b]
    potential = jnp.where(jnp.eye(n, dtype=bool), 0.0, jnp.exp(-settings.temperature * squared))
    return align + settings.weight * jnp.log(jnp.sum(potential) / (n * (n - 1)))


def build(config) -> Objective:
    settings = Settings(**config.align_uniform.to_dict())
    return Objective(
        "align_uniform",
        two_views,
        lambda out, aux, state, ctx: align_uniform(out, settings),
        num_views=2,
        strong_views=True,
        projector=True,
    )


SPEC = Spec(
    "align_uniform",
    "alignment and uniformity (a user's)",
    build,
    defaults,
    check,
    recipe={"optim.learning_rate": 0.02},
)


@pytest.fixture
def registered():
    """SPEC in the registry for one test: the runtime equivalent of its one registry line."""
    objectives.register(SPEC)
    try:
        yield SPEC
    finally:
        del objectives.REGISTRY[SPEC.name]


def test_a_registered_objective_is_configured_checked_and_given_its_recipe(registered):
    config = get_config("smoke")  # Configs made after `register` hold its settings.
    assert config.align_uniform.to_dict() == {"temperature": 2.0, "weight": 1.0}
    assert objectives.names()[-1] == "align_uniform"
    config.objective = "align_uniform"
    check_config(config)
    assert objectives.apply_recipe(config).optim.learning_rate == 0.02
    assert objectives.build(config).name == "align_uniform"
    config.align_uniform.temperature = 0.0
    with pytest.raises(UserError) as refused:
        check_config(config)
    message = "--config.align_uniform.temperature=0.0 is invalid: it must be positive."
    assert str(refused.value) == message
    assert "align_uniform" in {v.name for v in ablation.variants()}  # A successor's variant.


def test_a_config_made_before_the_registration_is_still_checked(registered):
    """Its objective's settings are checked only where the config holds them."""
    del objectives.REGISTRY[SPEC.name]
    config = get_config("smoke")
    objectives.register(SPEC)
    objectives.check(config)
    assert "align_uniform" not in config


def test_a_registered_objective_takes_a_step_of_the_tiny_run(tmp_path, registered):
    config = tiny_config(str(tmp_path))
    config.objective = "align_uniform"
    run = training.setup(config, str(tmp_path / "run"))
    assert run.objective.name == "align_uniform" and run.config.model.head_widths == (512,)
    state = training.initial_state(run, checkpoints.create_manager(str(tmp_path / "run")))
    step = training.compile_step(run)
    losses = []
    for rows, _ in zip(training.batches(run, 0), range(3), strict=False):
        state, metrics = step(state, sharding.put_batch(rows, run.mesh, config.batch_size))
        losses.append(float(metrics["loss"]))
    assert np.all(np.isfinite(losses)) and int(state.step) == 3 and state.extra == {}


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_a_registered_objective_trains_and_evaluates_on_the_smoke_preset(tmp_path, registered):
    config = get_config("smoke")
    config.objective = "align_uniform"
    config.update(progress_bar=False)
    config.eval.baselines = False
    config = objectives.apply_recipe(config)  # As `python -m natjax.main` does.
    workdir = tmp_path / "run"
    summary = training.train_and_evaluate(config, str(workdir))
    assert np.isfinite(summary["final_loss"]) and summary["steps"] == 2 * (2048 // 128)
    assert 0.3 < summary["knn_top1"] <= 1.0  # Fashion-MNIST's 10 classes: above chance.
    saved = json.loads((workdir / "config.json").read_text())
    assert saved["objective"] == "align_uniform"
    assert saved["align_uniform"] == {"temperature": 2.0, "weight": 1.0}  # Its section.
    assert saved["optim"]["learning_rate"] == 0.02  # Its recipe.
    bad = config.copy_and_resolve_references()
    bad.align_uniform.weight = -1.0
    with pytest.raises(UserError) as refused:
        training.train_and_evaluate(bad, str(tmp_path / "bad"))
    assert str(refused.value) == "--config.align_uniform.weight=-1.0 is invalid: it must be >= 0."
    assert not os.path.exists(tmp_path / "bad")  # Refused before anything was written.


def test_apply_recipe_sets_the_objectives_keys_except_those_the_user_set():
    config = get_config("smoke")
    config.objective = "supervised"
    assert config.optim.learning_rate == 0.05
    applied = objectives.apply_recipe(config)
    assert applied.optim.learning_rate == 0.01 and applied is not config
    assert config.optim.learning_rate == 0.05  # A changed copy; the config is left alone.
    assert objectives.apply_recipe(config, ["optim.learning_rate"]) is config  # A user's key.
    assert objectives.apply_recipe(config, ["optim"]) is config  # A user's parent section.
    assert objectives.apply_recipe(config, ["optim.momentum"]).optim.learning_rate == 0.01
    assert objectives.apply_recipe(applied) is applied  # Already at the recipe's value.
    config.objective = "nat"
    assert objectives.apply_recipe(config) is config  # No recipe.


def test_an_unknown_objective_is_named_with_the_choices():
    config = get_config("smoke")
    config.objective = "simclr2"
    with pytest.raises(UserError, match="objective.*nat, supervised, simclr, rotation") as e:
        objectives.check(config)
    assert len(str(e.value).splitlines()) == 1
    with pytest.raises(UserError, match="objective='simclr2' is invalid"):
        check_config(config)


def test_the_base_config_holds_every_registered_objectives_defaults():
    config = get_config()
    sections = objectives.default_settings()
    assert set(sections) == {n for n, s in objectives.REGISTRY.items() if s.defaults}
    assert {"nat", "simclr", "swav", "deepcluster"} <= set(sections)
    for name, section in sections.items():
        assert config[name].to_dict() == section.to_dict(), name


def test_every_objectives_settings_are_checked_whichever_is_trained():
    config = get_config("smoke")  # NAT's run.
    config.simclr.temperature = 0.0
    with pytest.raises(UserError, match=r"simclr\.temperature=0\.0 is invalid"):
        objectives.check(config)


def test_the_registry_builds_each_objective_under_its_name():
    assert objectives.names() == tuple(objectives.REGISTRY)
    assert objectives.names()[:2] == ("nat", "supervised")
    for name, spec in objectives.REGISTRY.items():
        config = get_config("smoke")
        config.objective = name
        assert spec.name == name and objectives.build(config).name == name

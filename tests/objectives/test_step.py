"""The shared step (`natjax.objectives.step`): what the contract of `natjax.objectives.base`
promises an objective, a step that is a pure function of state and batch for every objective
(what bitwise resumption needs), multi-crop's forward passes, and the global batch's terms on
eight devices."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax import objectives
from natjax.objectives import Found, Objective, StepConfig, create_train_state
from natjax.objectives.base import OPT_STATE, PARAMS, TARGET, keep_state
from natjax.objectives.step import apply_train, forward
from natjax.views import view
from tests.helpers import (
    IMAGE_SHAPE,
    ROOT,
    TX,
    last_json,
    make,
    objective_config,
    python,
    toy_model,
)


def _toy_objective(seen: list):
    """An objective using every part of the contract: its own parameters (a scale), a target,
    state found by the loss and kept by `update`, and a metric."""

    def init_extra(key, num_examples, params):
        return {
            PARAMS: {"scale": jnp.ones(())},
            TARGET: jax.tree.map(jnp.copy, params),
            "count": jnp.zeros((), jnp.int32),
        }

    def loss(out, ids, state, ctx):
        seen.append(ctx)
        value = jnp.mean(jnp.square(state[PARAMS]["scale"] * out - ctx.target_out - 1))
        value = value + jnp.mean(jnp.square(out))
        return value, Found(state={"found": jnp.sum(ids)}, metrics={"out_mean": jnp.mean(out)})

    def update(out, ids, state, ctx):
        return {**state, "count": state["count"] + 1}

    return Objective(
        "toy",
        lambda key, batch, cfg: (view(key, batch["images"], cfg), batch["ids"]),
        loss,
        init_extra=init_extra,
        update=update,
        target_momentum=0.5,
    )


def test_the_step_gives_an_objective_its_context_state_and_metrics():
    n = b = 8
    seen = []
    state, step, images = make(n, b, objective=_toy_objective(seen), crop_padding=0, flip=False)
    before = jax.tree.map(np.asarray, jax.device_get(state))
    ids = np.arange(b, dtype=np.int32)
    after, metrics = step(state, {"images": images, "ids": ids})
    (ctx,) = seen  # Traced once.
    assert ctx.cfg.crop_size == 8 and ctx.mesh is None and ctx.target_out.shape == (b, 4)
    assert set(metrics) == {"loss", "changed_fraction", "reassigned", "out_mean"}
    assert float(metrics["changed_fraction"]) == 0 and not bool(metrics["reassigned"])
    extra = after.extra
    assert set(extra) == {PARAMS, OPT_STATE, TARGET, "count", "found"}
    assert int(extra["count"]) == 1 and int(extra["found"]) == ids.sum()
    assert float(extra[PARAMS]["scale"]) != 1.0  # Trained by the run's optimizer.
    np.testing.assert_array_equal(after.perm, before.perm)  # No Found.perm: kept.
    leaves = map(jax.tree.leaves, (extra[TARGET], before.params, after.params))
    for t, p0, p1 in zip(*leaves, strict=True):
        np.testing.assert_allclose(t, 0.5 * p0 + 0.5 * np.asarray(p1), rtol=1e-6, atol=1e-7)


def test_an_objective_without_state_keeps_an_empty_one():
    n = b = 8
    plain = Objective("plain", lambda k, batch, cfg: (view(k, batch["images"], cfg), None), None)
    assert plain.update is keep_state and plain.head_dim(10) is None and plain.num_views == 1
    plain = dataclasses.replace(plain, loss=lambda out, aux, state, ctx: jnp.mean(out**2))
    state, step, images = make(n, b, objective=plain)
    after, metrics = step(state, {"images": images, "ids": np.arange(b)})
    assert after.extra == {} and int(after.step) == 1 and np.isfinite(float(metrics["loss"]))


def test_views_of_several_sizes_are_forward_passes_in_order_their_outputs_concatenated():
    model = toy_model()  # Average-pooled: one width of features at any size.
    model = dataclasses.replace(model, encoder=dataclasses.replace(model.encoder, pool="avg"))
    state = create_train_state(model, TX, 0, 4, IMAGE_SHAPE)
    rng = np.random.default_rng(0)
    large = rng.integers(0, 255, (4, 8, 8, 1)).astype(np.uint8)
    small = rng.integers(0, 255, (6, 4, 4, 1)).astype(np.uint8)
    out, stats = forward(model, state, state.params, (large, small))
    first, after_first = apply_train(model, state, state.params, large)
    second, after_both = apply_train(
        model, state.replace(batch_stats=after_first), state.params, small
    )
    np.testing.assert_allclose(out, np.concatenate([first, second]), rtol=1e-6)
    for got, want in zip(jax.tree.leaves(stats), jax.tree.leaves(after_both), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)  # The running averages moved twice.


@pytest.mark.parametrize(
    "name",
    [
        # The fast tier keeps a bank updated by the step, a target with own parameters, and
        # labels made outside the step.
        pytest.param("simclr", marks=pytest.mark.slow),
        pytest.param("rotation", marks=pytest.mark.slow),
        "instdisc",
        pytest.param("simsiam", marks=pytest.mark.slow),
        "byol",
        pytest.param("moco", marks=pytest.mark.slow),
        pytest.param("swav", marks=pytest.mark.slow),
        "deepcluster",
    ],
)
def test_a_step_is_a_pure_function_of_state_and_batch(name):
    """What bitwise resumption needs: the views come from (seed, step), nothing else."""
    n, b = 16, 8
    config = objective_config(name, 4, **{"moco.queue_size": 32, "deepcluster.clusters": 4})
    state, step, images = make(n, b, objective=objectives.build(config), dim=4)
    batches = [
        {"images": images[i * b : (i + 1) * b], "ids": np.arange(b) + i * b} for i in range(2)
    ]
    saved = jax.tree.map(np.asarray, jax.device_get(state))  # As a checkpoint holds it.
    straight = state
    for batch in batches * 2:
        straight, _ = step(straight, batch)
    resumed = saved
    for batch in batches:
        resumed, _ = step(jax.tree.map(jnp.asarray, resumed), batch)
    resumed = jax.tree.map(np.asarray, jax.device_get(resumed))  # The "restart".
    for batch in batches:
        resumed, _ = step(jax.tree.map(jnp.asarray, resumed), batch)
    for a, c in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, c)
    assert step._cache_size() == 1


def test_the_step_config_is_frozen_and_hashable_so_a_step_compiles_once():
    cfg = StepConfig(steps_per_epoch=3, crop_size=8, crop_padding=1, flip=True)
    assert hash(cfg) == hash(StepConfig(3, 8, 1, True)) and cfg.views is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.flip = False


TWO_STEPS = """
import json, sys, tempfile
import jax, numpy as np
sys.path.insert(0, {root!r})
from tests.helpers import tiny_config
from natjax import checkpoints, training
from natjax.parallel import sharding
tmp = tempfile.mkdtemp()
config = tiny_config(tmp)
config.objective = {name!r}
run = training.setup(config, tmp + "/run")
state = training.initial_state(run, checkpoints.create_manager(tmp + "/run"))
step = training.compile_step(run)
losses = []
for rows, _ in zip(training.batches(run, 0), range(2)):
    state, metrics = step(state, sharding.put_batch(rows, run.mesh, config.batch_size))
    losses.append(float(metrics["loss"]))
kernel = jax.tree.leaves(state.params)[0]
print(json.dumps({{"devices": jax.device_count(), "losses": losses,
                  "param": np.asarray(kernel).ravel()[:50].tolist()}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["simclr", "swav"])
def test_global_batch_terms_are_the_same_on_eight_devices(name):
    """SimCLR's negatives span the global batch: split over 8 devices, the loss and the update
    are one device's (up to the order of float sums)."""
    runs = []
    for devices in (1, 8):
        out = python(TWO_STEPS.format(root=ROOT, name=name), devices)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(last_json(out))
    one, eight = runs
    assert (one["devices"], eight["devices"]) == (1, 8)
    np.testing.assert_allclose(eight["losses"], one["losses"], rtol=1e-4)
    np.testing.assert_allclose(eight["param"], one["param"], rtol=1e-3, atol=1e-5)

"""NAT (`natjax.objectives.nat`): its fixed targets, its square loss, its re-assignment (the
best swap of the batch's targets, on its schedule, with every solver, on a mesh), and its step
on the shared step, against the paper's gradient written by hand."""

import dataclasses
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from configs.nat import get_config
from natjax.errors import UserError
from natjax.models.layers import l2_normalize
from natjax.objectives import StepConfig, nat
from natjax.objectives.nat import is_reassign_step, reassign, square_loss, targets
from natjax.objectives.step import apply_train
from natjax.parallel.sharding import make_mesh
from natjax.views import ViewSpec, view
from tests.helpers import TX, epoch_batches, is_permutation, make, nat_objective, toy_model


def test_targets_are_unit_vectors_of_the_requested_dim():
    c = targets(0, jnp.arange(100), 16)
    assert c.shape == (100, 16) and c.dtype == jnp.float32
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, rtol=1e-5)


def test_a_target_depends_only_on_seed_and_id():
    ids = jnp.array([5, 3, 9])
    np.testing.assert_array_equal(targets(1, ids, 8)[1], targets(1, jnp.array([3]), 8)[0])
    assert not np.allclose(targets(1, ids, 8), targets(2, ids, 8))


def test_targets_spread_uniformly_over_the_sphere():
    c = np.asarray(targets(0, jnp.arange(4000), 8))
    np.testing.assert_allclose(c.mean(0), 0.0, atol=0.05)  # Mean of a uniform law: 0.
    np.testing.assert_allclose(c.T @ c / len(c), np.eye(8) / 8, atol=0.02)  # Covariance I/d.


def test_discrete_targets_are_replicated_one_hot_vectors():
    ids = jnp.arange(12)
    c = np.asarray(targets(0, ids, 4, kind="discrete"))
    np.testing.assert_array_equal(c, np.eye(4)[np.arange(12) % 4])
    with pytest.raises(ValueError, match="use one of continuous, discrete"):
        targets(0, ids, 4, kind="binary")


def test_square_loss_of_unit_vectors_is_two_minus_twice_mean_cosine():
    z = l2_normalize(jax.random.normal(jax.random.key(0), (32, 8)))
    c = l2_normalize(jax.random.normal(jax.random.key(1), (32, 8)))
    expected = 2.0 - 2.0 * jnp.mean(jnp.sum(z * c, axis=1))
    np.testing.assert_allclose(square_loss(z, c), expected, rtol=1e-5)
    assert float(square_loss(c, c)) == 0.0


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(
    b=st.sampled_from([2, 4, 8]),
    batches_per_epoch=st.integers(1, 4),
    extra=st.integers(0, 3),
    reassign_every=st.integers(0, 2),
    epochs=st.integers(1, 3),
)
def test_assignment_stays_a_permutation(b, batches_per_epoch, extra, reassign_every, epochs):
    n = b * batches_per_epoch + extra  # Some examples fall in the dropped remainder.
    state, step, images = make(n, b, reassign_every)
    for batch in epoch_batches(n, b, epochs, images):
        before = np.asarray(state.perm)
        state, _ = step(state, batch)
        after = np.asarray(state.perm)
        assert is_permutation(after, n)
        outside = np.setdiff1d(np.arange(n), batch["ids"])
        np.testing.assert_array_equal(after[outside], before[outside])  # Swaps stay in-batch.
    if reassign_every == 0:
        np.testing.assert_array_equal(state.perm, np.arange(n))


def test_reassignment_schedule():
    flags = [bool(is_reassign_step(jnp.int32(s), 10, 3)) for s in range(0, 70, 10)]
    assert flags == [True, False, False, True, False, False, True]
    assert [bool(is_reassign_step(jnp.int32(s), 10, 3)) for s in (9, 10, 29, 30)] == [
        True,
        False,
        False,
        True,
    ]
    assert not any(bool(is_reassign_step(jnp.int32(s), 10, 0)) for s in range(50))


@pytest.mark.parametrize("solver", ["auction", "hungarian", "scipy"])
def test_reassign_finds_the_best_swap_of_the_batch_targets(solver):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(32, 8)).astype(np.float32)
    c = np.asarray(targets(0, jnp.arange(32), 8))
    pi = np.asarray(jax.jit(reassign, static_argnums=2)(z, c, solver))
    scores = z @ c.T
    rows, cols = linear_sum_assignment(scores, maximize=True)
    np.testing.assert_allclose(scores[np.arange(32), pi].sum(), scores[rows, cols].sum(), rtol=1e-5)
    assert scores[np.arange(32), pi].sum() >= np.trace(scores) - 1e-5


@pytest.mark.parametrize("scope", nat.SCOPES)
def test_on_a_one_device_mesh_either_scope_is_the_plain_reassignment(scope):
    """`reassign_on_mesh` in `shard_map` over one device solves the batch's one problem (the
    multi-device cases run in tests/parallel/test_scale_out.py)."""
    rng = np.random.default_rng(1)
    z = jnp.asarray(rng.normal(size=(16, 8)), jnp.float32)
    c = targets(0, jnp.arange(16), 8)
    on_mesh = jax.jit(nat.reassign_on_mesh, static_argnums=(2, 3, 4))
    pi = on_mesh(z, c, "hungarian", make_mesh(jax.devices()[:1]), scope)
    np.testing.assert_array_equal(pi, reassign(z, c, "hungarian"))
    np.testing.assert_array_equal(nat.reassign_on_mesh(z, c, "hungarian", None, scope), pi)


def test_step_reassigns_only_in_reassignment_epochs_and_compiles_once():
    n, b = 32, 8
    state, step, images = make(n, b, reassign_every=2)
    reassigned = []
    for batch in epoch_batches(n, b, 3, images):
        state, metrics = step(state, batch)
        reassigned.append(bool(metrics["reassigned"]))
        assert np.isfinite(float(metrics["loss"]))
    assert reassigned == [True] * 4 + [False] * 4 + [True] * 4
    assert int(state.step) == 12
    assert step._cache_size() == 1  # One compilation for both kinds of step.


def test_loss_is_the_square_loss_against_the_assigned_targets():
    n = b = 8
    state, step, images = make(n, b, reassign_every=0)
    ids = np.arange(b)
    new_state, metrics = step(state, {"images": images[ids], "ids": ids})
    assert 0.0 <= float(metrics["loss"]) <= 4.0  # Between unit vectors: ||z - c||^2 in [0, 4].
    assert float(metrics["changed_fraction"]) == 0.0
    assert int(new_state.step) == 1


@pytest.mark.parametrize(
    "solver",
    # On a CPU "auction" is the XLA kernel: auction_xla is the same program there.
    [
        pytest.param("auction", marks=pytest.mark.slow),  # The other steps' default solver.
        pytest.param("auction_xla", marks=pytest.mark.slow),
        "auction_triton",
        "hungarian",
    ],
)
def test_step_runs_with_each_in_graph_solver_and_compiles_once(solver):
    n, b = 16, 8
    state, step, images = make(n, b, reassign_every=1, solver=solver)
    for batch in epoch_batches(n, b, 1, images):
        state, metrics = step(state, batch)
    assert is_permutation(state.perm, n) and float(metrics["changed_fraction"]) > 0
    assert step._cache_size() == 1


def test_discrete_targets_are_the_one_hot_vectors_of_the_owned_ids():
    n = b = 8
    objective = nat_objective(0, **{"nat.targets": "discrete"})
    state, step, images = make(n, b, objective=objective, crop_padding=0, flip=False)
    ids = np.arange(b)
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    (_, proj), _ = toy_model().apply(variables, images, train=True, mutable=["batch_stats"])
    owned = np.asarray(state.perm)[ids]
    expected = square_loss(l2_normalize(proj), jax.nn.one_hot(owned % 4, 4))
    _, metrics = step(state, {"images": images[ids], "ids": ids})
    np.testing.assert_allclose(float(metrics["loss"]), float(expected), rtol=1e-5)


@pytest.mark.slow
def test_strong_views_replace_the_paper_crops_and_the_step_still_compiles_once():
    n, b = 16, 8
    state, step, images = make(n, b, reassign_every=1, views=ViewSpec())
    paper_cfg = StepConfig(1, crop_size=6, crop_padding=1, flip=True)
    key = jax.random.fold_in(state.rng, state.step)  # The step's key.
    batch = {"images": jnp.asarray(images[:b]), "ids": jnp.arange(b)}
    views = jax.jit(nat.views, static_argnums=2)
    strong = views(key, batch, dataclasses.replace(paper_cfg, views=ViewSpec()))[0]
    paper, ids = views(key, batch, paper_cfg)
    assert strong.shape == paper.shape == (b, 6, 6, 1) and strong.dtype == jnp.uint8
    assert not np.array_equal(strong, paper)
    np.testing.assert_array_equal(ids, batch["ids"])  # Each image's id: the target it owns.
    for batch in epoch_batches(n, b, 2, images):
        state, metrics = step(state, batch)
        assert np.isfinite(float(metrics["loss"]))
    assert is_permutation(state.perm, n) and step._cache_size() == 1


def hand_written_step(state, batch, *, model, tx, cfg, settings):
    """The paper's step with its gradient pulled back by hand, `2 (z - c) / b` through the
    forward pass: the reference `jax.value_and_grad` on the shared step must reproduce."""
    x = view(jax.random.fold_in(state.rng, state.step), batch["images"], cfg)

    def forward(params):
        proj, batch_stats = apply_train(model, state, params, x)
        return l2_normalize(proj), batch_stats

    z, pullback, batch_stats = jax.vjp(forward, state.params, has_aux=True)
    owned = state.perm[batch["ids"]]
    c = targets(settings.target_seed, owned, settings.target_dim)
    keep = jnp.arange(z.shape[0], dtype=jnp.int32)
    solve = functools.partial(reassign, z, c, "auction")
    every = settings.reassign_every
    pi = jax.lax.cond(is_reassign_step(state.step, cfg.steps_per_epoch, every), solve, lambda: keep)
    (grads,) = pullback(2.0 * (z - c[pi]) / z.shape[0])
    perm = state.perm.at[batch["ids"]].set(owned[pi])
    return state.apply_gradients(grads, tx, batch_stats=batch_stats, perm=perm)


def test_the_shared_step_differentiates_nats_loss_as_the_hand_written_gradient():
    n, b = 32, 16
    state, step, images = make(n, b, reassign_every=2)
    cfg = StepConfig(n // b, crop_size=8, crop_padding=1, flip=True)  # make's.
    settings = nat.Settings(2, "auction", "global", 0, "continuous", 4)
    fn = functools.partial(hand_written_step, model=toy_model(), tx=TX, cfg=cfg, settings=settings)
    reference = jax.jit(fn)
    expected = jax.tree.map(jnp.copy, state)
    for batch in epoch_batches(n, b, 3, images):  # Epochs 0 and 2 re-assign, 1 does not.
        expected = reference(expected, batch)
        state, _ = step(state, batch)
    np.testing.assert_array_equal(state.perm, expected.perm)
    assert not np.array_equal(state.perm, np.arange(n))
    for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_the_settings_bind_config_nat_and_the_target_dimension():
    config = get_config("smoke")
    config.model.target_dim = 12
    config.nat.update(scope="local", targets="discrete")
    assert nat.settings_of(config) == nat.Settings(1, "auction", "local", 0, "discrete", 12)
    assert nat.build(config).name == "nat" and nat.SPEC.defaults().to_dict() == {
        "reassign_every": 3,
        "solver": "auction",
        "scope": "global",
        "target_seed": 0,
        "targets": "continuous",
    }


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("nat.reassign_every", -1, "nat.reassign_every=-1 is invalid: it must be 0 (never) or"),
        ("nat.solver", "magic", "nat.solver='magic' is invalid: it must be one of auction, "),
        ("nat.scope", "world", "nat.scope='world' is invalid: it must be global or local."),
        ("nat.targets", "binary", "nat.targets='binary' is invalid: it must be continuous or"),
    ],
)
def test_a_bad_nat_setting_is_one_sentence(key, value, message):
    config = get_config("smoke")
    nat.check(config)
    config.update_from_flattened_dict({key: value})
    with pytest.raises(UserError, match="^" + re.escape("--config." + message)):
        nat.check(config)


def test_a_one_launch_kernel_beyond_its_size_is_one_sentence():
    """A kernel chosen by name must take the batch's problem: the TPU kernel's VMEM holds
    b <= 2048, so a global batch of 4096 is refused before any step; 2048 is accepted."""
    config = get_config("smoke")
    config.update_from_flattened_dict({"nat.solver": "auction_pallas_tpu", "batch_size": 2048})
    nat.check(config)
    config.batch_size = 4096
    message = (
        "--config.nat.solver='auction_pallas_tpu' is invalid: it must be auction or auction_xla "
        "at b = 4096 (the pallas_tpu kernel solves b <= 2048)."
    )
    with pytest.raises(UserError, match="^" + re.escape(message) + "$"):
        nat.check(config)

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from natjax.data import epoch_ids
from natjax.loss import l2_normalize, square_loss
from natjax.models import NATModel, SmallConvNet
from natjax.objectives.nat import train_step
from natjax.state import create_train_state
from natjax.step import StepConfig, is_reassign_step, reassign
from natjax.targets import targets

IMAGE_SHAPE = (8, 8, 1)


def make(n, b, reassign_every, solver="auction", step_fn=train_step, dim=4, **settings):
    model = NATModel(SmallConvNet((4,)), target_dim=dim)
    tx = optax.sgd(0.1, momentum=0.9)
    settings = {"crop_padding": 1, "flip": True, **settings}
    cfg = StepConfig(
        steps_per_epoch=n // b,
        reassign_every=reassign_every,
        solver=solver,
        target_seed=0,
        target_dim=dim,
        crop_size=8,
        **settings,
    )
    state = create_train_state(model, tx, 0, n, IMAGE_SHAPE)
    step = jax.jit(functools.partial(step_fn, model=model, tx=tx, cfg=cfg), donate_argnums=0)
    images = np.random.default_rng(0).integers(0, 255, (n, *IMAGE_SHAPE)).astype(np.uint8)
    return state, step, images


def batches(n, b, epochs, images):
    for epoch in range(epochs):
        for ids in epoch_ids(n, b, 0, epoch):
            yield {"images": images[ids], "ids": ids}


def is_permutation(perm, n):
    return np.array_equal(np.sort(np.asarray(perm)), np.arange(n))


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
    for batch in batches(n, b, epochs, images):
        before = np.asarray(state.perm)
        state, _ = step(state, batch)
        after = np.asarray(state.perm)
        assert is_permutation(after, n)
        outside = np.setdiff1d(np.arange(n), batch["ids"])
        np.testing.assert_array_equal(after[outside], before[outside])  # Swaps stay in-batch.
    if reassign_every == 0:
        np.testing.assert_array_equal(state.perm, np.arange(n))


def test_reassignment_schedule():
    cfg = StepConfig(
        steps_per_epoch=10,
        reassign_every=3,
        solver="hungarian",
        target_seed=0,
        target_dim=4,
        crop_size=8,
        crop_padding=0,
        flip=False,
    )
    flags = [bool(is_reassign_step(jnp.int32(s), cfg)) for s in range(0, 70, 10)]
    assert flags == [True, False, False, True, False, False, True]
    never = StepConfig(**{**cfg.__dict__, "reassign_every": 0})
    assert not any(bool(is_reassign_step(jnp.int32(s), never)) for s in range(50))


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


def test_step_reassigns_only_in_reassignment_epochs_and_compiles_once():
    n, b = 32, 8
    state, step, images = make(n, b, reassign_every=2)
    reassigned = []
    for batch in batches(n, b, 3, images):
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


@pytest.mark.parametrize("solver", ["auction", "auction_xla", "auction_pallas", "hungarian"])
def test_step_runs_with_each_in_graph_solver_and_compiles_once(solver):
    n, b = 16, 8
    state, step, images = make(n, b, reassign_every=1, solver=solver)
    for batch in batches(n, b, 1, images):
        state, metrics = step(state, batch)
    assert is_permutation(state.perm, n) and float(metrics["changed_fraction"]) > 0
    assert step._cache_size() == 1


def test_discrete_targets_are_the_one_hot_vectors_of_the_owned_ids():
    n = b = 8
    state, step, images = make(n, b, 0, targets="discrete", crop_padding=0, flip=False)
    ids = np.arange(b)
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    model = NATModel(SmallConvNet((4,)), target_dim=4)
    (_, proj), _ = model.apply(variables, images, train=True, mutable=["batch_stats"])
    owned = np.asarray(state.perm)[ids]
    expected = square_loss(l2_normalize(proj), jax.nn.one_hot(owned % 4, 4))
    _, metrics = step(state, {"images": images[ids], "ids": ids})
    np.testing.assert_allclose(float(metrics["loss"]), float(expected), rtol=1e-5)


def test_strong_views_replace_the_paper_crops_and_the_step_still_compiles_once():
    from natjax.step import augment
    from natjax.views import ViewSpec

    n, b = 16, 8
    state, step, images = make(n, b, reassign_every=1, views=ViewSpec())
    paper_cfg = StepConfig(1, 1, "auction", 0, 4, crop_size=6, crop_padding=1, flip=True)
    batch = {"images": jnp.asarray(images[:b]), "ids": jnp.arange(b)}
    strong = augment(
        state, batch, paper_cfg.__class__(**{**paper_cfg.__dict__, "views": ViewSpec()})
    )
    paper = augment(state, batch, paper_cfg)
    assert strong.shape == paper.shape == (b, 6, 6, 1) and strong.dtype == jnp.uint8
    assert not np.array_equal(strong, paper)
    for batch in batches(n, b, 2, images):
        state, metrics = step(state, batch)
        assert np.isfinite(float(metrics["loss"]))
    assert is_permutation(state.perm, n) and step._cache_size() == 1


def hand_written_step(state, batch, *, model, tx, cfg):
    """The paper's step with its gradient pulled back by hand, `2 (z - c) / b` through the
    forward pass: the reference `jax.value_and_grad` on the shared step must reproduce."""
    from natjax.step import apply_train, augment

    x = augment(state, batch, cfg)

    def forward(params):
        proj, batch_stats = apply_train(model, state, params, x)
        return l2_normalize(proj), batch_stats

    z, pullback, batch_stats = jax.vjp(forward, state.params, has_aux=True)
    owned = state.perm[batch["ids"]]
    c = targets(cfg.target_seed, owned, cfg.target_dim)
    keep = jnp.arange(z.shape[0], dtype=jnp.int32)
    solve = functools.partial(reassign, z, c, "auction")
    pi = jax.lax.cond(is_reassign_step(state.step, cfg), solve, lambda: keep)
    (grads,) = pullback(2.0 * (z - c[pi]) / z.shape[0])
    perm = state.perm.at[batch["ids"]].set(owned[pi])
    return state.apply_gradients(grads, tx, batch_stats=batch_stats, perm=perm)


def test_the_shared_step_differentiates_nats_loss_as_the_hand_written_gradient():
    n, b = 32, 16
    state, step, images = make(n, b, reassign_every=2)
    model = NATModel(SmallConvNet((4,)), target_dim=4)  # make's model and optimizer.
    tx = optax.sgd(0.1, momentum=0.9)
    cfg = StepConfig(n // b, 2, "auction", 0, 4, crop_size=8, crop_padding=1, flip=True)  # make's.
    reference = jax.jit(functools.partial(hand_written_step, model=model, tx=tx, cfg=cfg))
    expected = jax.tree.map(jnp.copy, state)
    for batch in batches(n, b, 3, images):  # Epochs 0 and 2 re-assign, 1 does not.
        expected = reference(expected, batch)
        state, _ = step(state, batch)
    np.testing.assert_array_equal(state.perm, expected.perm)
    assert not np.array_equal(state.perm, np.arange(n))
    for got, want in zip(jax.tree.leaves(state), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)

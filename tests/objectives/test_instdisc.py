"""Instance discrimination (`natjax.objectives.instdisc`): the full softmax and the NCE
estimate against numpy, the memory bank's update, and the bank and normaliser in the state."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from natjax import checkpoints, training
from natjax.objectives import instdisc
from natjax.parallel import sharding
from tests.helpers import assert_refused, first_step, tiny_config


def numpy_instdisc(out, ids, bank, temperature):
    f = out / np.linalg.norm(out, axis=1, keepdims=True)
    total = 0.0
    for i, j in enumerate(ids):
        e = np.exp(bank @ f[i] / temperature)
        total += -np.log(e[j] / e.sum())
    return total / len(ids)


def test_instdisc_loss_and_bank_update_are_the_papers():
    rng = np.random.default_rng(4)
    bank = rng.normal(size=(10, 3))
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    out, ids = rng.normal(size=(4, 3)), np.array([7, 0, 3, 9])
    got = instdisc.loss(jnp.asarray(out), jnp.asarray(ids), jnp.asarray(bank), 0.07)
    np.testing.assert_allclose(float(got), numpy_instdisc(out, ids, bank, 0.07), rtol=1e-4)
    new = np.asarray(instdisc.update(jnp.asarray(out), jnp.asarray(ids), jnp.asarray(bank), 0.5))
    f = out / np.linalg.norm(out, axis=1, keepdims=True)
    moved = 0.5 * bank[ids] + 0.5 * f
    np.testing.assert_allclose(
        new[ids], moved / np.linalg.norm(moved, axis=1, keepdims=True), atol=1e-6
    )
    others = np.setdiff1d(np.arange(10), ids)
    np.testing.assert_array_equal(new[others], bank[others].astype(np.float32))


def test_the_memory_bank_is_checkpointed_and_nats_layout_has_no_extra(tmp_path):
    config = tiny_config(str(tmp_path))
    config.objective = "instdisc"
    workdir = str(tmp_path / "run")
    run = training.setup(config, workdir)
    manager = checkpoints.create_manager(workdir)
    state = training.initial_state(run, manager)
    assert state.extra["bank"].shape == (len(run.dataset.train), config.model.target_dim)
    step = training.compile_step(run)
    batches = [sharding.put_batch(r, run.mesh, config.batch_size) for r in training.batches(run, 0)]
    for batch in batches[:2]:
        state, _ = step(state, batch)
    checkpoints.save(manager, state, config.to_dict())
    checkpoints.wait(manager)
    bank_at_2 = np.asarray(state.extra["bank"])
    straight = state
    for batch in batches[2:4]:
        straight, _ = step(straight, batch)
    resumed = training.initial_state(run, manager)  # From the checkpoint at step 2.
    assert int(resumed.step) == 2
    for batch in batches[2:4]:
        resumed, _ = step(resumed, batch)
    np.testing.assert_array_equal(resumed.extra["bank"], straight.extra["bank"])
    assert not np.array_equal(straight.extra["bank"], bank_at_2)  # It moved.
    _, nat_train = checkpoints.train_state._items(resumed.replace(extra={}))
    assert "extra" not in nat_train


def test_instdisc_nce_loss_is_the_papers_against_uniform_noise():
    rng = np.random.default_rng(14)
    out = rng.normal(size=(3, 4)).astype(np.float32)
    bank = rng.normal(size=(10, 4)).astype(np.float32)
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    ids, noise, t = np.array([0, 4, 7]), np.array([1, 4, 9, 9]), 0.5
    f = out / np.linalg.norm(out, axis=1, keepdims=True)
    own = np.exp(np.sum(f * bank[ids], 1) / t)
    others = np.exp(f @ bank[noise].T / t)
    for z in (3.0, 10 * np.mean(np.concatenate([own[:, None], others], 1))):  # Given; estimated.
        mass = 4 / 10
        h_own = (own / z) / (own / z + mass)
        h_others = (others / z) / (others / z + mass)
        want = np.mean(-np.log(h_own) - np.log(1 - h_others).sum(1))
        given = jnp.float32(z if z == 3.0 else 0.0)
        got, used = instdisc.nce_loss(out, ids, noise, bank, given, t)
        np.testing.assert_allclose(float(got), want, rtol=1e-5)
        np.testing.assert_allclose(float(used), z, rtol=1e-5)


def test_instdisc_nce_estimates_its_normaliser_once_and_keeps_it(tmp_path):
    config, state, after = first_step(tmp_path, "instdisc", **{"instdisc.nce_negatives": 8})
    assert float(state.extra["z"]) == 0.0 and set(after.extra) == {"bank", "z"}
    z = float(after.extra["z"])
    assert np.isfinite(z) and z > 0
    run = training.setup(config, str(tmp_path / "run"))
    batch = sharding.put_batch(next(training.batches(run, 1)), run.mesh, config.batch_size)
    later, _ = training.compile_step(run)(after, batch)
    assert float(later.extra["z"]) == z
    assert not np.array_equal(later.extra["bank"], after.extra["bank"])


def test_instdisc_nce_loss_falls_under_gradient_steps_on_a_fixed_bank():
    rng = np.random.default_rng(16)
    bank = instdisc.init_bank(jax.random.key(0), 1000, 16)["bank"]
    out = jnp.asarray(rng.normal(size=(32, 16)), jnp.float32)
    ids, noise = jnp.arange(32), jnp.asarray(rng.integers(0, 1000, 256))
    _, z = instdisc.nce_loss(out, ids, noise, bank, jnp.float32(0), 0.07)
    step = jax.jit(jax.value_and_grad(lambda o: instdisc.nce_loss(o, ids, noise, bank, z, 0.07)[0]))
    losses = []
    for _ in range(100):
        loss, grad = step(out)
        losses.append(float(loss))
        out = out - 0.01 * grad
    assert losses[-1] < losses[0] and all(np.diff(losses) < 0)


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "instdisc.nce_negatives",
            -1,
            "instdisc.nce_negatives=-1 is invalid: it must be 0 (the full softmax) or a positive",
        ),
        ("instdisc.temperature", 0.0, "instdisc.temperature=0.0 is invalid: it must be positive"),
    ],
)
def test_a_bad_instdisc_setting_is_one_sentence(key, value, message):
    assert_refused({key: value}, message, instdisc.check)

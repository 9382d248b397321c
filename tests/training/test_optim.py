"""The optimizer (`natjax.training.optim`): a constant step, then linearly to zero; weight
decay on the kernels alone."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs.nat import get_config
from natjax.training.optim import create_optimizer, learning_rate_schedule


def test_the_schedule_is_constant_then_decays_linearly_to_zero():
    optim = get_config().optim  # 0.05, constant for half the steps.
    schedule = learning_rate_schedule(optim, total_steps=100)
    got = [float(schedule(s)) for s in (0, 49, 50, 75, 100)]
    np.testing.assert_allclose(got, [0.05, 0.05, 0.05, 0.025, 0.0], atol=1e-9)


def test_weight_decay_reaches_kernels_but_not_biases():
    optim = get_config().optim
    optim.update(momentum=0.0, weight_decay=0.5, learning_rate=0.1)
    tx = create_optimizer(optim, total_steps=10)
    params = {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}
    zero = {"kernel": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}
    updates, _ = tx.update(zero, tx.init(params), params)
    np.testing.assert_allclose(updates["kernel"], -0.1 * 0.5, rtol=1e-6)  # lr x decay x w.
    np.testing.assert_array_equal(updates["bias"], 0.0)


def test_adam_and_an_unknown_name():
    optim = get_config().optim
    optim.name = "adam"
    tx = create_optimizer(optim, total_steps=10)
    params = {"w": jnp.ones(3)}
    updates, _ = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
    expected, _ = optax.adam(0.05).update(
        {"w": jnp.ones(3) + 5e-4}, optax.adam(0.05).init(params), params
    )
    np.testing.assert_allclose(updates["w"], expected["w"], rtol=1e-5)
    optim.name = "lamb"
    with pytest.raises(ValueError, match="Unknown optimizer 'lamb'"):
        create_optimizer(optim, total_steps=10)


def test_an_encoder_scale_slows_the_encoder_alone():
    optim = get_config().optim
    optim.update(momentum=0.0, weight_decay=0.0, learning_rate=0.1)
    params = {"encoder": {"kernel": jnp.ones((2, 2))}, "head": {"kernel": jnp.ones((2, 2))}}
    grads = jax.tree.map(jnp.ones_like, params)
    tx = create_optimizer(optim, 10)
    full, _ = tx.update(grads, tx.init(params), params)
    optim.encoder_learning_rate_scale = 0.25
    tx = create_optimizer(optim, 10)
    scaled, _ = tx.update(grads, tx.init(params), params)
    np.testing.assert_allclose(scaled["head"]["kernel"], full["head"]["kernel"])
    np.testing.assert_allclose(scaled["encoder"]["kernel"], 0.25 * full["encoder"]["kernel"])
    np.testing.assert_allclose(full["encoder"]["kernel"], -0.1)

"""The train state (`natjax.objectives.state`): step 0 of a run, and one optimizer step."""

import jax
import jax.numpy as jnp
import numpy as np

from natjax.objectives import create_train_state
from natjax.objectives.base import OPT_STATE, PARAMS
from natjax.objectives.state import init_variables, split_seed
from tests.helpers import IMAGE_SHAPE, TX, toy_model


def test_step_zero_gives_image_i_target_i_and_the_seeds_variables():
    model = toy_model()
    state = create_train_state(model, TX, 3, 10, IMAGE_SHAPE)
    assert int(state.step) == 0 and state.step.dtype == jnp.int32 and state.extra == {}
    np.testing.assert_array_equal(state.perm, np.arange(10))
    init_rng, run_rng = split_seed(3)
    np.testing.assert_array_equal(state.rng, run_rng)
    variables = init_variables(model, init_rng, IMAGE_SHAPE)
    for a, b in zip(*map(jax.tree.leaves, (state.params, variables["params"])), strict=True):
        np.testing.assert_array_equal(a, b)
    assert jax.tree.structure(state.opt_state) == jax.tree.structure(TX.init(state.params))


def test_an_objectives_own_parameters_get_their_own_key_and_optimizer_state():
    keys = []

    def init_extra(key, num_examples, params):
        keys.append(key)
        return {PARAMS: {"w": jnp.ones((num_examples,))}, "bank": jnp.zeros((num_examples, 2))}

    state = create_train_state(toy_model(), TX, 0, 5, IMAGE_SHAPE, init_extra)
    assert set(state.extra) == {PARAMS, OPT_STATE, "bank"}
    assert jax.tree.structure(state.extra[OPT_STATE]) == jax.tree.structure(
        TX.init(state.extra[PARAMS])
    )
    (key,) = keys
    assert not np.array_equal(np.asarray(key), np.asarray(split_seed(0)[0]))  # Not the model's.


def test_apply_gradients_steps_the_parameters_and_replaces_other_fields():
    state = create_train_state(toy_model(), TX, 0, 4, IMAGE_SHAPE)
    grads = jax.tree.map(jnp.ones_like, state.params)
    perm = jnp.array([1, 0, 2, 3], jnp.int32)
    after = state.apply_gradients(grads, TX, perm=perm)
    assert int(after.step) == 1
    np.testing.assert_array_equal(after.perm, perm)
    for a, b in zip(jax.tree.leaves(after.params), jax.tree.leaves(state.params), strict=True):
        np.testing.assert_allclose(a, np.asarray(b) - 0.1, rtol=1e-6)  # SGD's first step.

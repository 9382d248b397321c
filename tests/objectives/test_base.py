"""The objective contract (`natjax.objectives.base`): what an objective leaves unsaid takes
the defaults the step relies on, and the two-view objectives' views are the views module's."""

import jax
import jax.numpy as jnp
import numpy as np

from natjax import views
from natjax.objectives import StepConfig
from natjax.objectives.base import Found, Objective, StepContext, keep_state, two_views


def test_an_objective_says_only_its_views_and_loss():
    plain = Objective("plain", views=None, loss=None)
    assert (plain.num_views, plain.head_dim(10), plain.init_extra, plain.refresh) == (
        1, None, None, None
    )  # fmt: skip
    assert plain.update is keep_state and plain.target_momentum == 0.0
    assert not (plain.needs_labels or plain.strong_views or plain.projector)
    state = {"bank": jnp.zeros(3)}
    ctx = StepContext(step=jnp.int32(0), perm=jnp.arange(3), cfg=None, mesh=None)
    assert keep_state(None, None, state, ctx) is state and ctx.target_out is None
    assert Found() == (None, None, None)


def test_two_views_are_the_views_modules_with_no_aux():
    images = jnp.asarray(np.random.default_rng(0).integers(0, 255, (4, 12, 12, 3)), jnp.uint8)
    cfg, key = StepConfig(1, crop_size=8, crop_padding=0, flip=True), jax.random.key(3)
    x, aux = jax.eval_shape(lambda k, b: two_views(k, b, cfg), key, {"images": images})
    assert aux is None and x.shape == (8, 8, 8, 3)
    ours = jax.make_jaxpr(lambda k, i: two_views(k, {"images": i}, cfg)[0])(key, images)
    theirs = jax.make_jaxpr(lambda k, i: views.two_views(k, i, cfg))(key, images)
    assert str(ours) == str(theirs)  # The same program.

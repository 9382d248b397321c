"""The train state: one pytree holding everything a run needs to continue."""

from collections.abc import Callable

import flax.struct
import jax
import jax.numpy as jnp
import optax

from natjax.models import NATModel
from natjax.objectives.base import OPT_STATE, PARAMS


class TrainState(flax.struct.PyTreeNode):
    step: jax.Array  # int32 []
    params: dict
    batch_stats: dict
    opt_state: optax.OptState
    perm: jax.Array  # int32 [n]: image i owns target perm[i]; always a permutation of [0, n).
    rng: jax.Array  # uint32 [2]: the run's key; the step number is folded into it.
    # An objective's own state beyond the parameters (InstDisc's memory bank); NAT's is empty.
    extra: dict = flax.struct.field(default_factory=dict)

    def apply_gradients(self, grads, tx: optax.GradientTransformation, **changes) -> "TrainState":
        """One optimizer step on `params`; `changes` replaces other fields (e.g. `perm`)."""
        updates, opt_state = tx.update(grads, self.opt_state, self.params)
        params = optax.apply_updates(self.params, updates)
        return self.replace(step=self.step + 1, params=params, opt_state=opt_state, **changes)


def init_variables(model: NATModel, rng: jax.Array, input_shape: tuple[int, ...]) -> dict:
    """Fresh `params` and `batch_stats` for model inputs of `input_shape` (`[H, W, C]`)."""
    images = jnp.zeros((2, *input_shape), jnp.uint8)
    return dict(model.init(rng, images, train=False))


def split_seed(seed: int) -> tuple[jax.Array, jax.Array]:
    """`(init_rng, run_rng)`: the key that initialises the variables, and the run's key."""
    init_rng, run_rng = jax.random.split(jax.random.PRNGKey(seed))
    return init_rng, run_rng


def create_train_state(
    model: NATModel,
    tx: optax.GradientTransformation,
    seed: int,
    num_examples: int,
    input_shape: tuple[int, ...],
    init_extra: Callable[[jax.Array, int, dict], dict] | None = None,
) -> TrainState:
    """The state at step 0; image i starts with target i (the targets are i.i.d. anyway).
    `init_extra(key, num_examples, params)` makes the objective's own state, from a key of its
    own; its `params` (a predictor) get an `opt_state` of the run's optimizer beside them."""
    init_rng, run_rng = split_seed(seed)
    variables = init_variables(model, init_rng, input_shape)
    extra = {}
    if init_extra is not None:
        key = jax.random.fold_in(init_rng, 1)
        extra = init_extra(key, num_examples, variables["params"])
    if PARAMS in extra:
        extra = {**extra, OPT_STATE: tx.init(extra[PARAMS])}
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        opt_state=tx.init(variables["params"]),
        perm=jnp.arange(num_examples, dtype=jnp.int32),
        rng=run_rng,
        extra=extra,
    )

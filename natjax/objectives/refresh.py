"""An objective's pass over the whole training set between epochs (DeepCluster's k-means): the
head's outputs for every training image, in eval mode on the centre view, then the objective's
`refresh` on the device, before the first step of every `refresh_every` epochs.

A pure function of the state and the epoch (its key comes from the run's key and the epoch), so
a run resumed at an epoch's start refreshes as the uninterrupted one did, and one resumed
mid-epoch finds the refreshed state in its checkpoint. Every process computes the outputs of
every image itself, on its own devices.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from natjax.models import features
from natjax.objectives.base import OPT_STATE, PARAMS, Objective
from natjax.objectives.state import TrainState
from natjax.parallel import sharding


def refreshed_opt_state(tx: optax.GradientTransformation, params, old):
    """`tx`'s state for fresh `params`: new moments, the old step counts (integer leaves), so
    the learning-rate schedule goes on where it was."""
    new = tx.init(params)
    return jax.tree.map(lambda n, o: o if jnp.issubdtype(o.dtype, jnp.integer) else n, new, old)


class Refresher:
    """`refresher(state, step)`: `state` refreshed when `step` starts a refreshing epoch, else
    `state` itself."""

    def __init__(self, objective: Objective, model, tx, images, step_cfg, batch_size, mesh):
        self.objective, self.images, self.mesh = objective, images, mesh
        self.steps_per_epoch, self.batch_size = step_cfg.steps_per_epoch, batch_size
        self.encode = features.make_encode_fn(model, step_cfg.crop_size, output="head")
        replicated = sharding.state_sharding(mesh)
        self.apply = jax.jit(
            functools.partial(_refresh, objective=objective, tx=tx), out_shardings=replicated
        )

    def due(self, step: int) -> bool:
        epoch, offset = divmod(step, self.steps_per_epoch)
        return offset == 0 and epoch % self.objective.refresh_every == 0

    def __call__(self, state: TrainState, step: int) -> TrainState:
        if not self.due(step):
            return state
        variables = sharding.to_local({"params": state.params, "batch_stats": state.batch_stats})
        outputs = features.extract(self.encode, variables, self.images, self.batch_size)
        outputs = jax.make_array_from_process_local_data(
            sharding.state_sharding(self.mesh), np.asarray(outputs)
        )
        epoch = jnp.asarray(step // self.steps_per_epoch, jnp.int32)
        return state.replace(extra=self.apply(state.rng, epoch, outputs, state.extra))


def _refresh(rng, epoch, outputs, extra, *, objective: Objective, tx):
    key = jax.random.fold_in(jax.random.split(rng)[1], epoch)  # Apart from the steps' keys.
    new = objective.refresh(key, outputs, extra)
    if PARAMS in new:
        new = {**new, OPT_STATE: refreshed_opt_state(tx, new[PARAMS], extra[OPT_STATE])}
    return new

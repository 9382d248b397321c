"""NAT (Bojanowski & Joulin, 2017), Algorithm 1 on the shared step: one view of each image (the
paper's crops and flips, or `input.strong`'s), unit-normalised outputs `z`, the targets the
batch's images own (regenerated from their ids); on a re-assignment epoch the batch's images
swap targets by the `b x b` assignment maximising `sum_i <z_i, c_pi(i)>`, solved on the device
on features outside the gradient (`natjax.step.reassign_on_mesh`); then the square loss
against the (new) targets, differentiated by `jax.value_and_grad` like every objective's.
"""

import functools

import jax
import jax.numpy as jnp

from natjax.loss import l2_normalize, square_loss
from natjax.objectives.skeleton import Objective, objective_step
from natjax.step import is_reassign_step, reassign_on_mesh, view
from natjax.targets import targets


def views(key, batch, cfg):
    """One view of each image (`input.views`'), and its id (the target it owns)."""
    return view(key, batch["images"], cfg), batch["ids"]


def loss(out: jax.Array, ids: jax.Array, extra: dict) -> tuple[jax.Array, dict]:
    """The square loss of the unit-normalised outputs against the batch's targets, after the
    re-assignment where the step is on a re-assigning epoch; the new assignment and the share
    of the batch that changed targets."""
    cfg, perm = extra["cfg"], extra["perm"]
    z = l2_normalize(out)  # [b, d]
    owned = perm[ids]  # [b]: the target ids the batch holds.
    c = targets(cfg.target_seed, owned, cfg.target_dim, cfg.targets)  # [b, d]
    keep = jnp.arange(z.shape[0], dtype=jnp.int32)
    do_reassign = is_reassign_step(extra["step"], cfg)
    solve = functools.partial(reassign_on_mesh, z, c, cfg.solver, extra["mesh"], cfg.scope)
    pi = jax.lax.cond(do_reassign, solve, lambda: keep)  # `reassign` stops the gradient.
    metrics = {"changed_fraction": jnp.mean(pi != keep), "reassigned": do_reassign}
    return square_loss(z, c[pi]), {"perm": perm.at[ids].set(owned[pi]), "metrics": metrics}


OBJECTIVE = Objective("nat", views, loss)

# NAT's step, `(state, batch, *, model, tx, cfg, mesh=None) -> (state, metrics)`.
train_step = functools.partial(objective_step, objective=OBJECTIVE)

"""The train step, one for every objective: views -> forward -> the objective's loss ->
gradients by `jax.value_and_grad` -> optimizer -> the objective's own state. An `Objective`
(`natjax.objectives.base`) says how it draws its views, what its loss is and what state it
keeps; the harness (data, mesh, checkpoints, evaluation) is the same for all.

Data parallel by GSPMD: the step is jitted over a mesh with the batch split along its `data`
axis, and the loss is written on the global batch, so batch-norm statistics, gradients and the
terms that couple images (SimCLR's negatives, SwAV's Sinkhorn sums) span every device's images
without a hand-written gather. Per-device code (NAT's assignment, in `shard_map`) gets the mesh
from the step's `StepContext`.
"""

import dataclasses

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from natjax.models import NATModel
from natjax.objectives.base import (
    OPT_STATE,
    PARAMS,
    TARGET,
    Batch,
    Found,
    Metrics,
    Objective,
    StepContext,
)
from natjax.objectives.state import TrainState
from natjax.views import ViewSpec


@dataclasses.dataclass(frozen=True)
class StepConfig:
    """The static settings every objective's step uses (hashable, so the step compiles once);
    an objective's own settings are bound into its `Objective` when it is built."""

    steps_per_epoch: int
    crop_size: int
    crop_padding: int
    flip: bool
    views: ViewSpec | None = None  # Strong views; None: the paper's crops and flips.


def objective_step(
    state: TrainState,
    batch: Batch,
    *,
    model: NATModel,
    tx: optax.GradientTransformation,
    cfg: StepConfig,
    objective: Objective,
    mesh: Mesh | None = None,
) -> tuple[TrainState, Metrics]:
    """One optimizer step of `objective` on a batch.

    Args:
      state: the train state; donated by the jitted step.
      batch: `{"images": uint8 [b, H, W, C], "ids": int32 [b]}`, and `"labels"` where the
        objective needs them; split over `mesh`'s data axis.
      model: the network the state's parameters belong to.
      tx: the run's optimizer (it also trains the objective's own `PARAMS`).
      cfg: the step's static settings.
      objective: what is trained (`natjax.objectives.build`).
      mesh: the device mesh, for the objective's per-device code; None on one device.

    Returns:
      The next state (its views were drawn from `(state.rng, state.step)`, so a resumed run
      repeats them) and the step's metrics: `loss`, `changed_fraction` and `reassigned` (NAT's
      re-assignment; zero and False for the other objectives).
    """
    key = jax.random.fold_in(state.rng, state.step)
    x, aux = objective.views(key, batch, cfg)
    ctx = StepContext(state.step, state.perm, cfg, mesh, _target_outputs(model, state, x))

    def loss_fn(params, own):
        out, batch_stats = forward(model, state, params, x)
        value = objective.loss(out, aux, {**state.extra, PARAMS: own}, ctx)
        value, found = value if isinstance(value, tuple) else (value, Found())
        return value, (batch_stats, out, found)

    own = state.extra.get(PARAMS, {})
    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    (loss, (batch_stats, out, found)), (grads, own_grads) = grad_fn(state.params, own)
    extra = _train_own(state.extra, own_grads, tx)
    extra = objective.update(jax.lax.stop_gradient(out), aux, {**extra, **(found.state or {})}, ctx)
    perm = state.perm if found.perm is None else found.perm
    metrics = {"loss": loss, **_no_reassignment(), **(found.metrics or {})}
    new_state = state.apply_gradients(grads, tx, batch_stats=batch_stats, perm=perm)
    if TARGET in extra:
        m = objective.target_momentum
        m = m(state.step, cfg) if callable(m) else m
        extra = {**extra, TARGET: _moved(extra[TARGET], new_state.params, m)}
    return new_state.replace(extra=extra), metrics


def _no_reassignment() -> dict:
    """The metrics of a step that moved no image to another target."""
    return {"changed_fraction": jnp.zeros((), jnp.float32), "reassigned": jnp.zeros((), bool)}


def _target_outputs(model: NATModel, state: TrainState, x) -> jax.Array | None:
    """The target network's head outputs on `x`, outside the gradient, in train mode as the
    online network's (its updated statistics dropped); None without one."""
    if TARGET not in state.extra:
        return None
    out, _ = forward(model, state, state.extra[TARGET], x)
    return jax.lax.stop_gradient(out)


def apply_train(model: NATModel, state: TrainState, params, x: jax.Array) -> tuple:
    """The head's output on `x` in train mode with `params`, and the updated batch-norm
    statistics."""
    variables = {"params": params, "batch_stats": state.batch_stats}
    (_, out), updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
    return out, updates["batch_stats"]


def forward(model: NATModel, state: TrainState, params, x) -> tuple:
    """`apply_train` on the views `x`: one array, or a tuple of arrays of different sizes, each
    a forward pass with its own batch statistics, run in order (the running averages move
    once per pass), their outputs concatenated."""
    if not isinstance(x, tuple):
        return apply_train(model, state, params, x)
    outs, batch_stats = [], state.batch_stats
    for group in x:
        out, batch_stats = apply_train(model, state.replace(batch_stats=batch_stats), params, group)
        outs.append(out)
    return jnp.concatenate(outs), batch_stats


def _moved(target, params, m):
    return jax.tree.map(lambda t, p: m * t + (1 - m) * p, target, params)


def _train_own(extra: dict, grads, tx: optax.GradientTransformation) -> dict:
    """`extra` with its own `PARAMS` (if any) stepped by `tx` on `grads`."""
    if PARAMS not in extra:
        return extra
    updates, opt_state = tx.update(grads, extra[OPT_STATE], extra[PARAMS])
    params = optax.apply_updates(extra[PARAMS], updates)
    return {**extra, PARAMS: params, OPT_STATE: opt_state}

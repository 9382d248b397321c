"""The step every objective shares, NAT's included: views -> forward -> the objective's loss ->
gradients by `jax.value_and_grad` -> optimizer -> the objective's own state. An `Objective` says
how it draws its views, what its loss is and what state it keeps; the harness (data, mesh,
checkpoints, evaluation) is the same for all.

Data parallel by GSPMD: the batch is split over the mesh and the loss is written on the global
batch, so the terms that couple images (SimCLR's negatives, SwAV's Sinkhorn sums) span every
device's images without a hand-written gather. Per-device code (NAT's assignment, in
`shard_map`) gets the mesh from the step.
"""

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from natjax.models import NATModel
from natjax.state import TrainState
from natjax.step import Batch, Metrics, StepConfig, apply_train


@dataclasses.dataclass(frozen=True)
class Objective:
    """One training objective in the shared step.

    `views(key, batch, cfg)` gives the model's uint8 inputs `[v * b, S, S, C]` (v views per
    image), or a tuple of such arrays of different sizes (SwAV's multi-crop: each its own
    forward pass, their outputs concatenated in order), and what the loss needs besides the
    outputs (labels, ids, or None);
    `loss(out, aux, extra)` maps the head's outputs `[v * b, d]` to a scalar, given the
    objective's own state `extra` (`init_extra(key, num_examples, params)` makes it from the
    model's initial `params`; `update(out, aux, extra)` advances it after the step, on outputs
    outside the gradient). Two entries of `extra` the step itself looks after: `params` (the
    objective's own parameters, a predictor: trained with the model's by the same optimizer)
    and `target` (a momentum copy of the model's parameters: its head outputs on the same views,
    outside the gradient, reach the loss and `update` as `extra["target_out"]`, and after the
    step it moves to `m * target + (1 - m) * params`, for `m = target_momentum`, or
    `target_momentum(step, cfg)` where it is a schedule over the step's index).
    `head_dim(num_classes)` is the head's width when the objective fixes it (a classifier's),
    None to keep `model.target_dim`; `projector` gives the head the hidden layers of
    `model.projection_widths` (where not empty) instead of `model.head_widths`.
    `refresh(key, outputs, extra)`, where given, remakes `extra` from the head's outputs
    `[n, d]` for every training image, before the first step of every `refresh_every` epochs
    (DeepCluster's k-means; `natjax.objectives.refresh`).

    The step also shows `loss` and `update` the state's `step` and `perm` (the image-to-target
    assignment), the step's `cfg` and `mesh`, in `extra`; none of them is kept there. `loss`
    may return `(loss, found)`: `found`'s entries reach `update` beside `extra`, a `perm` among
    them becomes the state's assignment, and `found["metrics"]` fills the step's metrics (NAT's
    re-assignment: `natjax.objectives.nat`)."""

    name: str
    views: Callable
    loss: Callable
    num_views: int = 1  # Views per image: `views` gives `num_views * b` inputs.
    head_dim: Callable[[int], int | None] = lambda num_classes: None
    needs_labels: bool = False
    strong_views: bool = False  # Always strong views (`input.strong`), whatever `input.views`.
    init_extra: Callable[[jax.Array, int, dict], dict] | None = None
    update: Callable = lambda out, aux, extra: extra
    target_momentum: float | Callable = 0.0  # Of `extra["target"]`, where there is one.
    refresh: Callable[[jax.Array, jax.Array, dict], dict] | None = None
    refresh_every: int = 0  # Epochs.
    projector: bool = False  # Its head's hidden layers are `model.projection_widths`.


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
    """One optimizer step of `objective` on a batch; its views are drawn from
    `(state.rng, state.step)`, so a resumed run repeats them."""
    key = jax.random.fold_in(state.rng, state.step)
    x, aux = objective.views(key, batch, cfg)
    shown = {"step": state.step, "perm": state.perm, "cfg": cfg, "mesh": mesh}
    seen = {**state.extra, **_target_outputs(model, state, x), **shown}

    def loss_fn(params, own):
        out, batch_stats = forward(model, state, params, x)
        loss = objective.loss(out, aux, {**seen, "params": own})
        loss, found = loss if isinstance(loss, tuple) else (loss, {})
        return loss, (batch_stats, out, found)

    own = state.extra.get("params", {})
    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    (loss, (batch_stats, out, found)), (grads, own_grads) = grad_fn(state.params, own)
    extra = _train_own(state.extra, own_grads, tx)
    extra = objective.update(jax.lax.stop_gradient(out), aux, {**seen, **extra, **found})
    perm = extra.get("perm", state.perm)
    metrics = {"loss": loss, **_no_reassignment(), **found.get("metrics", {})}
    extra = {key: value for key, value in extra.items() if key not in (*_SHOWN, "metrics")}
    new_state = state.apply_gradients(grads, tx, batch_stats=batch_stats, perm=perm)
    if "target" in extra:
        m = objective.target_momentum
        m = m(state.step, cfg) if callable(m) else m
        extra = {**extra, "target": _moved(extra["target"], new_state.params, m)}
    return new_state.replace(extra=extra), metrics


_SHOWN = ("target_out", "step", "perm", "cfg", "mesh")  # Shown to the objective, not kept.


def _no_reassignment() -> dict:
    """The metrics of a step that moved no image to another target."""
    return {"changed_fraction": jnp.zeros((), jnp.float32), "reassigned": jnp.zeros((), bool)}


def _target_outputs(model: NATModel, state: TrainState, x: jax.Array) -> dict:
    """`{"target_out": ...}`: the target network's head outputs on `x`, outside the gradient,
    in train mode as the online network's (its updated statistics dropped); `{}` without one."""
    if "target" not in state.extra:
        return {}
    out, _ = forward(model, state, state.extra["target"], x)
    return {"target_out": jax.lax.stop_gradient(out)}


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
    """`extra` with its own `params` (if any) stepped by `tx` on `grads`."""
    if "params" not in extra:
        return extra
    updates, opt_state = tx.update(grads, extra["opt_state"], extra["params"])
    params = optax.apply_updates(extra["params"], updates)
    return {**extra, "params": params, "opt_state": opt_state}

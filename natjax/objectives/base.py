"""The objective contract, stated once: what an objective gives the shared step (`Objective`),
what the step shows it (`StepContext`), what its loss may return beside its value (`Found`),
the keys of its own state that the step looks after, and how it registers (`Spec`).

An objective's own state is `TrainState.extra`, a dict of arrays (InstDisc's memory bank,
MoCo's queue), checkpointed with the rest of the state; NAT's is empty. The step looks after
three of its keys, where they are present:
- `PARAMS`: the objective's own parameters (a predictor, prototypes, a classifier), trained
  by the run's optimizer beside the model's;
- `OPT_STATE`: their optimizer state (made when the train state is created);
- `TARGET`: a momentum copy of the model's parameters. Its head outputs on the step's views,
  outside the gradient, reach `loss` and `update` as `StepContext.target_out`; after the step
  it moves to `m * target + (1 - m) * params`, for `m = Objective.target_momentum`.
"""

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
from jax.sharding import Mesh
from ml_collections import ConfigDict

from natjax import views

PARAMS = "params"
OPT_STATE = "opt_state"
TARGET = "target"

Batch = dict[str, jax.Array]  # {"images": uint8 [b, H, W, C], "ids": int32 [b], "labels"?}
Metrics = dict[str, jax.Array]


class StepContext(NamedTuple):
    """What the step shows an objective's `loss` and `update` beside its own state; none of it
    is kept in that state."""

    step: jax.Array  # int32 []: the train state's step, before this one.
    perm: jax.Array  # int32 [n]: the image-to-target assignment (image i owns target perm[i]).
    cfg: Any  # The step's static settings (`natjax.objectives.step.StepConfig`).
    mesh: Mesh | None  # For per-device code in `shard_map` (NAT's assignment); None: one device.
    target_out: jax.Array | None = None  # The `TARGET` network's head outputs, where it has one.


class Found(NamedTuple):
    """What a loss may return beside its value, `(value, Found(...))`."""

    state: dict | None = None  # Entries for the objective's state, seen by `update`.
    perm: jax.Array | None = None  # A new assignment `[n]`, kept as the state's (NAT's).
    metrics: Metrics | None = None  # The step's metrics beside the loss.


def two_views(key: jax.Array, batch: Batch, cfg) -> tuple[jax.Array, None]:
    """The views of the two-view objectives: two strong views of each image
    (`natjax.views.two_views`, `[2b, S, S, C]`), and no `aux`."""
    return views.two_views(key, batch["images"], cfg), None


def keep_state(out, aux, state: dict, ctx: StepContext) -> dict:
    """The default `update`: the objective's state as the loss left it."""
    del out, aux, ctx
    return state


@dataclasses.dataclass(frozen=True)
class Objective:
    """One training objective in the shared step (`natjax.objectives.step.objective_step`).

    Attributes:
      name: the `config.objective` that selects it.
      views: `views(key, batch, cfg) -> (x, aux)`: the model's uint8 inputs `x`
        `[v * b, S, S, C]` (v = `num_views` per image), or a tuple of such arrays of different
        sizes (SwAV's multi-crop: each its own forward pass, their outputs concatenated in
        order), and what the loss needs beside the outputs (labels, ids, or None).
      loss: `loss(out, aux, state, ctx) -> value` or `(value, Found)`: the scalar to minimise,
        from the head's outputs `out` `[v * b, d]`, the objective's own `state` (its `PARAMS`
        among them, differentiated) and the `StepContext`.
      num_views: views per image.
      head_dim: the head's width when the objective fixes it (`num_classes -> width`, a
        classifier's), None to keep `model.target_dim`.
      needs_labels: the batches carry `labels`.
      strong_views: always strong views (`input.strong`), whatever `input.views` says.
      init_extra: `init_extra(key, num_examples, params) -> state` makes the objective's own
        state from the model's initial `params`; None: it has none.
      update: `update(out, aux, state, ctx) -> state` advances it after the step, on outputs
        outside the gradient (`state` holds the loss's `Found.state` too).
      target_momentum: `m` of the `TARGET` network, or `m(step, cfg)`, a schedule.
      refresh: `refresh(key, outputs, state) -> state` remakes the state from the head's
        outputs `[n, d]` for every training image, before the first step of every
        `refresh_every` epochs (DeepCluster's k-means; `natjax.objectives.refresh`).
      refresh_every: epochs between refreshes.
      projector: its head's hidden layers are `model.projection_widths` (where not empty)
        instead of `model.head_widths`.
    """

    name: str
    views: Callable
    loss: Callable
    num_views: int = 1
    head_dim: Callable[[int], int | None] = lambda num_classes: None
    needs_labels: bool = False
    strong_views: bool = False
    init_extra: Callable[[jax.Array, int, dict], dict] | None = None
    update: Callable = keep_state
    target_momentum: float | Callable = 0.0
    refresh: Callable[[jax.Array, jax.Array, dict], dict] | None = None
    refresh_every: int = 0
    projector: bool = False


def no_check(config: ConfigDict) -> None:
    del config  # Nothing of its own to check.


@dataclasses.dataclass(frozen=True)
class Spec:
    """An objective as the registry (`natjax.objectives.REGISTRY`) knows it.

    Attributes:
      name: the `config.objective` that selects it (and its settings' section, `config.NAME`).
      label: its row in the ablation table.
      build: `build(config) -> Objective`, called once per run.
      defaults: `defaults() -> ConfigDict`, its settings (`config.NAME`) as new configs hold
        them; None where it has none.
      check: `check(config)`: raises a UserError, one sentence, on an invalid setting of its.
      recipe: the dotted keys it sets when a run chooses it (`natjax.objectives.apply_recipe`),
        unless the user sets them: e.g. `{"optim.learning_rate": 0.01}`.
    """

    name: str
    label: str
    build: Callable[[ConfigDict], Objective]
    defaults: Callable[[], ConfigDict] | None = None
    check: Callable[[ConfigDict], None] = no_check
    recipe: Mapping[str, Any] = dataclasses.field(default_factory=dict)

"""The pieces of the train step every objective shares, and NAT's re-assignment: the step's
static settings (`StepConfig`), the views drawn from `(seed, step)`, the model's train-mode
forward pass, and the `b x b` assignment that maximises `sum_i <z_i, c_pi(i)>`, solved inside
the step (`natjax.objectives.nat` puts them together as NAT's step). Nothing goes back to the
host.

Data parallel: the step is jitted over a mesh with the batch split along its `data` axis (the
forward pass, batch-norm statistics and gradients are global by GSPMD). The re-assignment is
per-device code in `shard_map`: with `scope="global"` every device gathers the whole batch's
features and targets and solves the same global problem (so 8 devices x 32 images solve one
256 x 256 assignment, as one device would); with `scope="local"` each device solves its own
slice, for global batches too large for one assignment.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec

from natjax import assignment, preprocess
from natjax.models import NATModel
from natjax.sharding import DATA_AXIS
from natjax.state import TrainState
from natjax.views import ViewSpec, strong_view

Batch = dict[str, jax.Array]  # {"images": uint8 [b, H, W, C], "ids": int32 [b]}
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class StepConfig:
    """The static settings of the step (hashable, so the step compiles once)."""

    steps_per_epoch: int
    reassign_every: int  # Epochs between re-assignments; 0 = never.
    solver: str
    target_seed: int
    target_dim: int
    crop_size: int
    crop_padding: int
    flip: bool
    scope: str = "global"  # Re-assignment over the global batch, or each device's "local" one.
    targets: str = "continuous"  # natjax.targets.KINDS
    views: ViewSpec | None = None  # Strong views; None: the paper's crops and flips.


SCOPES = ("global", "local")


def is_reassign_step(step: jax.Array, cfg: StepConfig) -> jax.Array:
    """True on every step of epochs 0, k, 2k, ... for `reassign_every = k` (never for k = 0)."""
    if cfg.reassign_every <= 0:
        return jnp.zeros((), bool)
    return (step // cfg.steps_per_epoch) % cfg.reassign_every == 0


def reassign(z: jax.Array, c: jax.Array, solver: str) -> jax.Array:
    """The permutation `pi` of the batch's targets maximising `sum_i <z_i, c_pi(i)>`: `[b]`."""
    scores = jax.lax.stop_gradient(z) @ c.T  # [b, b]
    return assignment.solve(scores, solver)


def reassign_on_mesh(z, c, solver: str, mesh: Mesh | None, scope: str) -> jax.Array:
    """`reassign` for a batch split over `mesh`: one global problem solved identically on
    every device (`pi` replicated), or one problem per device's slice (`pi` split like the
    batch, in global indices). Without a mesh, the plain `reassign`."""
    if mesh is None:
        return reassign(z, c, solver)
    data = PartitionSpec(DATA_AXIS)

    def solve_global(z, c):
        gather = functools.partial(jax.lax.all_gather, axis_name=DATA_AXIS, tiled=True)
        return reassign(gather(z), gather(c), solver)

    def solve_local(z, c):
        return reassign(z, c, solver) + jax.lax.axis_index(DATA_AXIS) * z.shape[0]

    if scope == "local":
        # No collectives to type-check here, and the fused auction kernel in Pallas' interpret
        # mode (off GPUs) fails shard_map's check of varying axes (JAX 0.10).
        return jax.shard_map(
            solve_local, mesh=mesh, in_specs=(data, data), out_specs=data, check_vma=False
        )(z, c)
    # Every device solves the same gathered problem with the same deterministic solver, so `pi`
    # is replicated by construction; the type checker cannot see through the gather (check_vma).
    return jax.shard_map(
        solve_global, mesh=mesh, in_specs=(data, data), out_specs=PartitionSpec(), check_vma=False
    )(z, c)


def augment(state: TrainState, batch: Batch, cfg: StepConfig) -> jax.Array:
    """The batch's random views, drawn from `(state.rng, state.step)`: the paper's crops and
    flips, or `cfg.views`' strong ones."""
    return view(jax.random.fold_in(state.rng, state.step), batch["images"], cfg)


def view(key: jax.Array, images: jax.Array, cfg: StepConfig) -> jax.Array:
    """One random view of each image, drawn from `key`, as `cfg` asks (see `augment`)."""
    if cfg.views is not None:
        return strong_view(key, images, cfg.crop_size, cfg.views)
    return preprocess.random_crop_flip(key, images, cfg.crop_size, cfg.crop_padding, cfg.flip)


def apply_train(model: NATModel, state: TrainState, params, x: jax.Array) -> tuple:
    """The head's output on `x` in train mode with `params`, and the updated batch-norm
    statistics."""
    variables = {"params": params, "batch_stats": state.batch_stats}
    (_, out), updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
    return out, updates["batch_stats"]

"""NAT (Bojanowski & Joulin, 2017), Algorithm 1 on the shared step: its fixed targets, its loss
and its re-assignment, together.

Each image owns a fixed target on the unit sphere, regenerated on the device from its id and
never stored (`targets`): only the assignment `perm` (n int32, in the train state) is kept. A
step draws one view of each image (the paper's crops and flips, or `input.strong`'s), takes the
head's unit-normalised outputs `z`, and on a re-assignment epoch (`nat.reassign_every`) lets
the batch's images swap targets by the `b x b` assignment maximising `sum_i <z_i, c_pi(i)>`,
solved on the device inside the step (`reassign_on_mesh`); then the square loss against the
(new) targets, differentiated by `jax.value_and_grad` like every objective's.

Data parallel: the re-assignment is per-device code in `shard_map`. With `nat.scope = "global"`
every device gathers the whole batch's features and targets and solves the same global problem
(so 8 devices x 32 images solve one 256 x 256 assignment, as one device would); with "local"
each device solves its own slice, for global batches too large for one assignment.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import Mesh, PartitionSpec

from natjax import assignment
from natjax.assignment import kernels
from natjax.errors import require
from natjax.models.layers import l2_normalize
from natjax.objectives.base import Found, Objective, Spec, StepContext
from natjax.parallel.sharding import DATA_AXIS
from natjax.views import view

KINDS = ("continuous", "discrete")  # `nat.targets`.
SCOPES = ("global", "local")  # `nat.scope`.


def defaults() -> ml_collections.ConfigDict:
    """`config.nat`."""
    c = ml_collections.ConfigDict()
    c.reassign_every = 3  # Epochs between re-assignments; 0 = never.
    # natjax.assignment.METHODS: auction (on GPUs one Pallas kernel, elsewhere XLA loops) |
    # auction_xla | auction_triton | auction_mosaic_gpu | auction_pallas_tpu | hungarian | scipy
    c.solver = "auction"
    # "global": one assignment over all devices' images; "local": one per device's slice.
    c.scope = "global"
    c.target_seed = 0
    # "continuous": uniform on the unit sphere (the paper's); "discrete": replicated one-hot
    # vectors of the canonical basis (the paper's clustering-like ablation).
    c.targets = "continuous"
    return c


@dataclasses.dataclass(frozen=True)
class Settings:
    """`config.nat`, and the targets' dimension (`model.target_dim`)."""

    reassign_every: int
    solver: str
    scope: str
    target_seed: int
    targets: str
    target_dim: int


def settings_of(config) -> Settings:
    return Settings(**config.nat.to_dict(), target_dim=config.model.target_dim)


def check(config) -> None:
    nat = config.nat
    every = nat.reassign_every
    require(every >= 0, "nat.reassign_every", every, "0 (never) or a positive number of epochs")
    methods = ", ".join(sorted(assignment.METHODS))
    require(nat.solver in assignment.METHODS, "nat.solver", nat.solver, f"one of {methods}")
    require(nat.scope in SCOPES, "nat.scope", nat.scope, " or ".join(SCOPES))
    kernel = nat.solver.removeprefix("auction_")
    if kernel in kernels.MAX_SIZES:  # A one-launch kernel takes problems up to a size.
        b = config.batch_size // (jax.device_count() if nat.scope == "local" else 1)
        largest = kernels.MAX_SIZES[kernel]
        require(
            b <= largest,
            "nat.solver",
            nat.solver,
            f"auction or auction_xla at b = {b} (the {kernel} kernel solves b <= {largest})",
        )
    require(nat.targets in KINDS, "nat.targets", nat.targets, " or ".join(KINDS))


def targets(seed: int, ids: jax.Array, dim: int, kind: str = "continuous") -> jax.Array:
    """The unit-norm targets of `ids` (int `[b]`): float32 `[b, dim]`.

    Target `j` of the "continuous" kind is a standard normal vector drawn from
    `fold_in(key(seed), j)` divided by its norm: a uniform point on the unit sphere of R^d. The
    paper's "discrete" ablation replaces them with replicated one-hot vectors of the canonical
    basis: target `j` is `e_(j mod d)`, so each of the d "clusters" owns n/d images.
    """
    if kind == "discrete":
        return jax.nn.one_hot(ids % dim, dim, dtype=jnp.float32)
    if kind != "continuous":
        raise ValueError(f"Unknown target kind {kind!r}; use one of {', '.join(KINDS)}.")
    key = jax.random.key(seed)

    def one(j):
        v = jax.random.normal(jax.random.fold_in(key, j), (dim,), jnp.float32)
        return v / jnp.linalg.norm(v)

    return jax.vmap(one)(ids)


def square_loss(z: jax.Array, c: jax.Array) -> jax.Array:
    """`(1/b) sum_i ||z_i - c_i||^2` for unit-norm `z` and targets `c`, both `[b, d]`."""
    return jnp.mean(jnp.sum(jnp.square(z - c), axis=-1))


def is_reassign_step(step: jax.Array, steps_per_epoch: int, every: int) -> jax.Array:
    """True on every step of epochs 0, k, 2k, ... for `every = k` (never for k = 0)."""
    if every <= 0:
        return jnp.zeros((), bool)
    return (step // steps_per_epoch) % every == 0


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


def views(key, batch, cfg):
    """One view of each image (`input.views`'), and its id (the target it owns)."""
    return view(key, batch["images"], cfg), batch["ids"]


def loss(
    out: jax.Array, ids: jax.Array, settings: Settings, ctx: StepContext
) -> tuple[jax.Array, Found]:
    """The square loss of the unit-normalised outputs against the batch's targets, after the
    re-assignment where the step is on a re-assigning epoch; the new assignment and the share
    of the batch that changed targets."""
    z = l2_normalize(out)  # [b, d]
    owned = ctx.perm[ids]  # [b]: the target ids the batch holds.
    c = targets(settings.target_seed, owned, settings.target_dim, settings.targets)  # [b, d]
    keep = jnp.arange(z.shape[0], dtype=jnp.int32)
    every, spe = settings.reassign_every, ctx.cfg.steps_per_epoch
    do_reassign = is_reassign_step(ctx.step, spe, every)
    solve = functools.partial(reassign_on_mesh, z, c, settings.solver, ctx.mesh, settings.scope)
    pi = jax.lax.cond(do_reassign, solve, lambda: keep)  # `reassign` stops the gradient.
    metrics = {"changed_fraction": jnp.mean(pi != keep), "reassigned": do_reassign}
    return square_loss(z, c[pi]), Found(perm=ctx.perm.at[ids].set(owned[pi]), metrics=metrics)


def build(config) -> Objective:
    settings = settings_of(config)
    return Objective("nat", views, lambda out, ids, state, ctx: loss(out, ids, settings, ctx))


SPEC = Spec("nat", "NAT (the base config)", build, defaults, check)

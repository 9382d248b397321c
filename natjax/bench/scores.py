"""Score matrices `[b, b]` for the assignment benchmark, by family.

- `random`: unit-norm d = 128 features against unit-norm targets (no structure).
- `nat_init`: NAT's own problem at step 0: an encoder's features at initialisation (train-mode
  forward, batch statistics, as in the step) against the targets its images hold. The features
  are nearly parallel, so every row wants the same columns.
- `nat_trained`: the same from a trained run's latest checkpoint (`workdir`), with the
  assignment that run holds: the features sit near their targets.
- `ties` (integers 0-3: most entries tie), `duplicated` (rows equal in pairs) and `constant`
  (every assignment optimal): adversarial cases for the auction's bidding.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from natjax import checkpoints, training
from natjax.errors import UserError
from natjax.models.layers import l2_normalize
from natjax.objectives import create_train_state, nat
from natjax.objectives.step import apply_train
from natjax.training.run import input_shape
from natjax.views import center_crop

FAMILIES = ("random", "nat_init", "nat_trained", "ties", "duplicated", "constant")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_scores(b: int, seed: int, d: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _unit(rng.normal(size=(b, d))) @ _unit(rng.normal(size=(b, d))).T


def ties(b: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (b, b)).astype(np.float64)


def duplicated(b: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=((b + 1) // 2, b))
    return np.repeat(rows, 2, axis=0)[:b]


def constant(b: int, seed: int) -> np.ndarray:
    del seed
    return np.full((b, b), 0.25)


@dataclasses.dataclass
class NatSource:
    """A run's model, data and state: where the NAT families' features come from."""

    run: training.Run
    state: object  # TrainState

    def scores(self, b: int, seed: int) -> np.ndarray:
        """`z @ c.T` for `b` training images drawn by `seed`: features against the targets
        those images hold in `state`."""
        n = len(self.run.dataset.train)
        if b > n:
            raise UserError(f"b = {b} needs {b} training images; the dataset has {n}.")
        ids = np.sort(np.random.default_rng(seed).permutation(n)[:b])
        images = jnp.asarray(self.run.dataset.train.images[ids])
        crop = self.run.step_cfg.crop_size
        if crop != images.shape[1]:
            images = center_crop(images, crop)
        forward = jax.jit(functools.partial(apply_train, self.run.model))
        proj, _ = forward(self.state, self.state.params, images)
        settings = nat.settings_of(self.run.config)
        owned = self.state.perm[ids]
        c = nat.targets(settings.target_seed, owned, settings.target_dim, settings.targets)
        return np.asarray(l2_normalize(proj) @ c.T, np.float64)


def init_source(config) -> NatSource:
    """The encoder of `config` (a `configs/nat.py` preset) at initialisation."""
    run = training.setup(config, "")
    state = create_train_state(
        run.model, run.tx, config.seed, len(run.dataset.train), input_shape(run)
    )
    return NatSource(run, state)


def trained_source(workdir: str, data_source: str | None = None) -> NatSource:
    """The run in `workdir` at its latest checkpoint; `data_source` overrides where its images
    are read from."""
    config, _ = checkpoints.read_run(workdir)
    if data_source:
        config.data.source = data_source
    run = training.setup(config, workdir)
    state = training.initial_state(run, checkpoints.create_manager(workdir, create=False))
    if int(state.step) == 0:
        raise UserError(f"{workdir} has no checkpoint; train into it with natjax.main first.")
    return NatSource(run, state)


SYNTHETIC = {
    "random": random_scores,
    "ties": ties,
    "duplicated": duplicated,
    "constant": constant,
}

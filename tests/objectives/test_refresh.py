"""The pass over the training set between epochs (`natjax.objectives.refresh`): DeepCluster's
k-means at each epoch's start with a fresh classifier, its own key per epoch, and the
optimizer state of the fresh parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from natjax import checkpoints, training
from natjax.objectives import deepcluster
from natjax.objectives.refresh import Refresher, refreshed_opt_state
from tests.helpers import tiny_config


def test_deepcluster_clusters_at_each_epochs_start_with_a_fresh_classifier(tmp_path):
    config = tiny_config(str(tmp_path))
    config.objective = "deepcluster"
    config.deepcluster.clusters = 12
    run = training.setup(config, str(tmp_path / "run"))
    state = training.initial_state(run, checkpoints.create_manager(str(tmp_path / "run")))
    images = run.dataset.train.images
    refresh = Refresher(
        run.objective, run.model, run.tx, images, run.step_cfg, config.batch_size, run.mesh
    )
    spe = run.step_cfg.steps_per_epoch
    assert refresh(state, 1) is state and refresh(state, spe + 1) is state  # Mid-epoch.
    before = jax.tree.map(np.asarray, jax.device_get(state.extra))
    state = refresh(state, 0)
    labels = np.asarray(state.extra["labels"])
    assert labels.shape == (96,) and 1 < len(np.unique(labels)) <= 12
    np.testing.assert_allclose(
        state.extra["weights"], deepcluster.cluster_weights(jnp.asarray(labels), 12), rtol=1e-6
    )
    kernel = np.asarray(state.extra["params"]["kernel"])
    assert kernel.shape == (8, 12) and abs(float(kernel.std()) - 0.01) < 0.005
    assert not np.array_equal(kernel, before["params"]["kernel"])  # A fresh classifier.
    again = refresh(state, 0)  # The same epoch's pass: the same labels and classifier.
    for a, b in zip(jax.tree.leaves(again.extra), jax.tree.leaves(state.extra), strict=True):
        np.testing.assert_array_equal(a, b)
    later = refresh(state, spe)
    assert not np.array_equal(later.extra["params"]["kernel"], kernel)  # Its own key.


def test_the_refresh_keeps_the_schedules_count_and_resets_the_moments():
    tx = optax.chain(optax.sgd(optax.linear_schedule(1.0, 0.0, 10), momentum=0.9))
    params = {"w": jnp.ones(3)}
    old = tx.update({"w": jnp.ones(3)}, tx.init(params), params)[1]
    new = refreshed_opt_state(tx, {"w": jnp.zeros(3)}, old)
    counts = [x for x in jax.tree.leaves(new) if jnp.issubdtype(x.dtype, jnp.integer)]
    moments = [x for x in jax.tree.leaves(new) if not jnp.issubdtype(x.dtype, jnp.integer)]
    assert counts and all(int(c) == 1 for c in counts)
    assert moments and all(not np.any(m) for m in moments)

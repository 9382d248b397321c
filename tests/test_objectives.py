"""The objectives on the shared step: each loss against a value computed by hand in numpy, the
views they draw, and short runs that learn, stay resumable and do not collapse."""

import dataclasses
import functools
import json
import os
import re
import signal
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_checkpointing import (
    PREEMPT_FLAGS,
    assert_same_state,
    preempt_config,
    smoke_cmd,
    train_only,
    wait_for_step,
)
from test_main import needs_fashion_mnist
from test_scale_out import python
from test_step import is_permutation, make

import natjax
from configs.nat import get_config
from conftest import ROOT, tiny_config
from natjax import checkpointing, data, objectives, probes, train
from natjax.encoder_io import read_run
from natjax.errors import Preempted
from natjax.models import NATModel, SmallConvNet
from natjax.objectives import (
    byol,
    deepcluster,
    instdisc,
    moco,
    rotation,
    simclr,
    simsiam,
    supervised,
    swav,
)
from natjax.state import create_train_state
from natjax.step import StepConfig
from natjax.views import ViewSpec

TX = optax.sgd(0.1, momentum=0.9)  # test_step.make's optimizer.


def step_of(name):
    config = get_config("smoke")
    config.objective = name
    return objectives.step_fn(config)


def test_supervised_step_learns_the_labels_of_a_batch():
    n = b = 16
    state, step, images = make(n, b, 0, step_fn=step_of("supervised"), crop_padding=0, flip=False)
    batch = {"images": images, "ids": np.arange(b), "labels": np.arange(b) % 4}
    losses = []
    for _ in range(60):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
        assert not bool(metrics["reassigned"])
    assert losses[0] > 1.0 and losses[-1] < 0.5 * losses[0], losses
    assert is_permutation(state.perm, n) and step._cache_size() == 1


def numpy_nt_xent(out, temperature):
    """NT-Xent written out view by view."""
    z = out / np.linalg.norm(out, axis=1, keepdims=True)
    n = len(z)
    total = 0.0
    for i in range(n):
        twin = (i + n // 2) % n
        others = [np.exp(z[i] @ z[j] / temperature) for j in range(n) if j != i]
        total += -np.log(np.exp(z[i] @ z[twin] / temperature) / np.sum(others))
    return total / n


def test_nt_xent_is_the_papers_loss():
    out = np.random.default_rng(0).normal(size=(6, 3))
    for t in (0.1, 0.5):
        got = float(simclr.nt_xent(jnp.asarray(out, jnp.float32), t))
        np.testing.assert_allclose(got, numpy_nt_xent(out, t), rtol=1e-5)


def test_nt_xent_is_smallest_when_twins_agree_and_others_differ():
    basis = np.eye(4, dtype=np.float32)
    twins = np.concatenate([basis, basis])  # Each image's views agree; images are orthogonal.
    crossed = np.concatenate([basis, basis[::-1]])
    assert float(simclr.nt_xent(twins, 0.5)) < float(simclr.nt_xent(crossed, 0.5))


def test_rotated_views_are_the_four_turns_with_their_labels():
    b = 3
    images = np.random.default_rng(1).integers(0, 255, (b, 6, 6, 1)).astype(np.uint8)
    cfg = StepConfig(1, 0, "auction", 0, 4, crop_size=6, crop_padding=0, flip=False)
    x, labels = rotation.rotated_views(jax.random.key(0), {"images": images}, cfg)
    assert x.shape == (4 * b, 6, 6, 1) and labels.tolist() == [0] * b + [1] * b + [2] * b + [3] * b
    for k in range(4):
        np.testing.assert_array_equal(x[k * b : (k + 1) * b], np.rot90(images, k, axes=(1, 2)))


def test_rotation_loss_is_cross_entropy_on_the_turns():
    logits = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    labels = np.repeat(np.arange(4), 2)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(8), labels]))
    np.testing.assert_allclose(float(supervised.loss(logits, labels)), expected, rtol=1e-5)
    rotation_loss = rotation.build(get_config("smoke")).loss(logits, labels, {})
    assert float(rotation_loss) == float(supervised.loss(logits, labels))


def test_simclr_views_are_two_different_strong_views_of_each_image():
    images = np.random.default_rng(3).integers(0, 255, (4, 12, 12, 3)).astype(np.uint8)
    cfg = StepConfig(1, 0, "auction", 0, 4, crop_size=8, crop_padding=0, flip=True)
    x, _ = simclr.two_views(jax.random.key(0), {"images": images}, cfg)
    assert x.shape == (8, 8, 8, 3) and x.dtype == jnp.uint8
    assert not np.array_equal(x[:4], x[4:])
    strong = dataclasses.replace(cfg, views=ViewSpec(min_scale=1.0, jitter_prob=0.0))
    y, _ = simclr.two_views(jax.random.key(0), {"images": images}, strong)
    assert not np.array_equal(x, y)  # `input.strong`'s settings are the ones used.


@pytest.mark.parametrize(
    "name", ["simclr", "rotation", "instdisc", "simsiam", "byol", "moco", "swav", "deepcluster"]
)
def test_a_step_is_a_pure_function_of_state_and_batch(name):
    """What bitwise resumption needs: the views come from (seed, step), nothing else."""
    n, b = 16, 8
    config = get_config("smoke")
    config.objective = name
    config.model.target_dim = 4
    config.moco.queue_size = 32
    config.deepcluster.clusters = 4
    state, step, images = make(n, b, 0, step_fn=objectives.step_fn(config), dim=4)
    model = NATModel(SmallConvNet((4,)), target_dim=4)  # make's model and optimizer.
    init_extra = objectives.init_extra(config)
    state = create_train_state(model, TX, 0, n, images.shape[1:], init_extra)
    batches = [
        {"images": images[i * b : (i + 1) * b], "ids": np.arange(b) + i * b} for i in range(2)
    ]
    saved = jax.tree.map(np.asarray, jax.device_get(state))  # As a checkpoint holds it.
    straight = state
    for batch in batches * 2:
        straight, _ = step(straight, batch)
    resumed = saved
    for batch in batches:
        resumed, _ = step(jax.tree.map(jnp.asarray, resumed), batch)
    resumed = jax.tree.map(np.asarray, jax.device_get(resumed))  # The "restart".
    for batch in batches:
        resumed, _ = step(jax.tree.map(jnp.asarray, resumed), batch)
    for a, c in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "name, head",
    [
        ("simclr", 8),
        ("rotation", 4),
        ("instdisc", 8),
        ("simsiam", 8),
        ("byol", 8),
        ("moco", 8),
        ("swav", 8),
        ("deepcluster", 8),
    ],
)
def test_each_objective_trains_exports_and_does_not_collapse(tmp_path, name, head):
    config = tiny_config(str(tmp_path))
    config.objective = name
    config.model.update(head_widths=(16,), projection_widths=(16,))
    config.deepcluster.clusters = 20  # Of the toy data's 96 images.
    config.eval.protocols = ("linear", "knn")
    workdir = str(tmp_path / "run")
    summary = train.train_and_evaluate(config, workdir)
    assert np.isfinite(summary["final_loss"]) and 0 <= summary["knn_top1"] <= 1
    saved, _ = read_run(workdir)
    assert saved.objective == name and saved.model.target_dim == head
    out = natjax.export(workdir, str(tmp_path / "export"))
    z = natjax.load_encoder(out)(data.load(config.data).test.images[:40])
    # Not collapsed: the features still vary across images, in most dimensions.
    spread = z.std(0)
    assert np.isfinite(z).all() and np.mean(spread > 1e-3 * np.abs(z).mean()) > 0.5


@pytest.mark.parametrize(
    "name, widths",
    [("nat", ()), ("supervised", ()), ("instdisc", ()), ("simclr", (24,)), ("byol", (24,))],
)
def test_the_objectives_with_a_projection_mlp_train_through_it(tmp_path, name, widths):
    config = tiny_config(str(tmp_path))
    config.objective = name
    config.model.projection_widths = (24,)
    run = train.setup(config, str(tmp_path / "run"))
    assert run.config.model.head_widths == widths and run.model.head_widths == widths
    config.model.projection_widths = ()  # A linear projection, as the base config's head.
    assert train.setup(config, str(tmp_path / "run")).model.head_widths == ()


def test_an_unknown_objective_is_named_with_the_choices(tmp_path):
    from natjax.config_checks import check_config
    from natjax.errors import UserError

    config = tiny_config(str(tmp_path))
    config.objective = "simclr2"
    with pytest.raises(UserError, match="objective.*nat, supervised, simclr, rotation"):
        check_config(config)


TWO_STEPS = """
import json, sys, tempfile
import jax, numpy as np
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from conftest import tiny_config
from natjax import checkpointing, train
tmp = tempfile.mkdtemp()
config = tiny_config(tmp)
config.objective = {name!r}
run = train.setup(config, tmp + "/run")
state = train.initial_state(run, checkpointing.create_manager(tmp + "/run"))
step = train.compile_step(run)
losses = []
for rows, _ in zip(train.batches(run, 0), range(2)):
    state, metrics = step(state, train.sharding.put_batch(rows, run.mesh, config.batch_size))
    losses.append(float(metrics["loss"]))
kernel = jax.tree.leaves(state.params)[0]
print(json.dumps({{"devices": jax.device_count(), "losses": losses,
                  "param": np.asarray(kernel).ravel()[:50].tolist()}}))
"""


@pytest.mark.parametrize("name", ["simclr", "swav"])
def test_global_batch_terms_are_the_same_on_eight_devices(name):
    """SimCLR's negatives span the global batch: split over 8 devices, the loss and the update
    are one device's (up to the order of float sums)."""
    runs = []
    for devices in (1, 8):
        code = TWO_STEPS.format(root=ROOT, tests=os.path.join(ROOT, "tests"), name=name)
        out = python(code, devices)
        assert out.returncode == 0, out.stderr[-3000:]
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    one, eight = runs
    assert (one["devices"], eight["devices"]) == (1, 8)
    np.testing.assert_allclose(eight["losses"], one["losses"], rtol=1e-4)
    np.testing.assert_allclose(eight["param"], one["param"], rtol=1e-3, atol=1e-5)


def numpy_instdisc(out, ids, bank, temperature):
    f = out / np.linalg.norm(out, axis=1, keepdims=True)
    total = 0.0
    for i, j in enumerate(ids):
        e = np.exp(bank @ f[i] / temperature)
        total += -np.log(e[j] / e.sum())
    return total / len(ids)


def test_instdisc_loss_and_bank_update_are_the_papers():
    rng = np.random.default_rng(4)
    bank = rng.normal(size=(10, 3))
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    out, ids = rng.normal(size=(4, 3)), np.array([7, 0, 3, 9])
    got = instdisc.loss(jnp.asarray(out), jnp.asarray(ids), jnp.asarray(bank), 0.07)
    np.testing.assert_allclose(float(got), numpy_instdisc(out, ids, bank, 0.07), rtol=1e-4)
    new = np.asarray(instdisc.update(jnp.asarray(out), jnp.asarray(ids), jnp.asarray(bank), 0.5))
    f = out / np.linalg.norm(out, axis=1, keepdims=True)
    moved = 0.5 * bank[ids] + 0.5 * f
    np.testing.assert_allclose(
        new[ids], moved / np.linalg.norm(moved, axis=1, keepdims=True), atol=1e-6
    )
    others = np.setdiff1d(np.arange(10), ids)
    np.testing.assert_array_equal(new[others], bank[others].astype(np.float32))


def test_the_memory_bank_is_checkpointed_and_nats_layout_has_no_extra(tmp_path):
    config = tiny_config(str(tmp_path))
    config.objective = "instdisc"
    workdir = str(tmp_path / "run")
    run = train.setup(config, workdir)
    manager = checkpointing.create_manager(workdir)
    state = train.initial_state(run, manager)
    assert state.extra["bank"].shape == (len(run.dataset.train), config.model.target_dim)
    step = train.compile_step(run)
    batches = [
        train.sharding.put_batch(r, run.mesh, config.batch_size) for r in train.batches(run, 0)
    ]
    for batch in batches[:2]:
        state, _ = step(state, batch)
    checkpointing.save(manager, state, config.to_dict())
    checkpointing.wait(manager)
    bank_at_2 = np.asarray(state.extra["bank"])
    straight = state
    for batch in batches[2:4]:
        straight, _ = step(straight, batch)
    resumed = train.initial_state(run, manager)  # From the checkpoint at step 2.
    assert int(resumed.step) == 2
    for batch in batches[2:4]:
        resumed, _ = step(resumed, batch)
    np.testing.assert_array_equal(resumed.extra["bank"], straight.extra["bank"])
    assert not np.array_equal(straight.extra["bank"], bank_at_2)  # It moved.
    _, nat_train = checkpointing._items(resumed.replace(extra={}))
    assert "extra" not in nat_train


def test_simsiam_loss_is_the_negative_cosine_both_ways_through_the_predictor():
    rng = np.random.default_rng(5)
    out = rng.normal(size=(6, 4)).astype(np.float32)
    predictor = simsiam.init_predictor(jax.random.key(0), 4, 3)
    w1, b1, w2, b2 = (np.asarray(layer[k]) for layer in predictor for k in ("w", "b"))

    def cos(a, b):
        return np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    z1, z2 = out[:3], out[3:]
    p1, p2 = (np.maximum(z @ w1 + b1, 0) @ w2 + b2 for z in (z1, z2))
    expected = -0.5 * cos(p1, z2).mean() - 0.5 * cos(p2, z1).mean()
    np.testing.assert_allclose(float(simsiam.loss(out, predictor)), expected, rtol=1e-5)


def test_simsiams_predictor_is_trained_and_its_targets_get_no_gradient():
    z = jnp.asarray(np.random.default_rng(6).normal(size=(4, 4)), jnp.float32)
    predictor = simsiam.init_predictor(jax.random.key(0), 4, 3)
    g_out, g_pred = jax.grad(simsiam.loss, argnums=(0, 1))(z, predictor)
    assert all(np.abs(leaf).sum() > 0 for leaf in jax.tree.leaves(g_pred))
    assert np.abs(np.asarray(g_out)).sum() > 0

    def one_way(o):  # View 1's prediction against view 2's projection, held fixed.
        return simsiam.negative_cosine(probes.mlp(predictor, o[:2]), o[2:])

    assert np.abs(np.asarray(jax.grad(one_way)(z)[2:])).sum() == 0


def test_byol_loss_is_the_normalised_square_distance_both_ways():
    rng = np.random.default_rng(7)
    out, target = rng.normal(size=(2, 6, 4)).astype(np.float32)
    predictor = simsiam.init_predictor(jax.random.key(0), 4, 16)
    w1, b1, w2, b2 = (np.asarray(layer[k]) for layer in predictor for k in ("w", "b"))

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    p1, p2 = (np.maximum(z @ w1 + b1, 0) @ w2 + b2 for z in (out[:3], out[3:]))
    pairs = ((p1, target[3:]), (p2, target[:3]))
    expected = sum(np.mean(np.sum((unit(p) - unit(t)) ** 2, 1)) for p, t in pairs)
    np.testing.assert_allclose(float(byol.loss(out, target, predictor)), expected, rtol=1e-5)


def first_step(tmp_path, name: str, at_step: int = 0, **changes):
    """The tiny run of objective `name` (with `changes`, dotted keys): its config, its initial
    state on the host (its step count set to `at_step`), and its state after one step."""
    config = tiny_config(str(tmp_path))
    config.objective = name
    config.update_from_flattened_dict(changes)
    run = train.setup(config, str(tmp_path / "run"))
    state = train.initial_state(run, checkpointing.create_manager(str(tmp_path / "run")))
    state = state.replace(step=jnp.full_like(state.step, at_step))
    before = jax.tree.map(np.asarray, jax.device_get(state))  # The step donates `state`.
    batch = train.sharding.put_batch(next(train.batches(run, 0)), run.mesh, config.batch_size)
    return config, before, train.compile_step(run)(state, batch)[0]


@pytest.mark.parametrize(
    "schedule, at_step, momentum",
    # The tiny run has 18 steps (96 images, batch 16, 3 epochs): at step 9 the cosine schedule
    # is half way from the base momentum to 1.
    [("constant", 0, 0.9), ("cosine", 0, 0.9), ("cosine", 9, 0.95), ("constant", 9, 0.9)],
)
def test_byols_target_is_a_moving_average_of_the_online_network_without_gradient(
    tmp_path, schedule, at_step, momentum
):
    changes = {"byol.momentum": 0.9, "byol.momentum_schedule": schedule}
    _, state, after = first_step(tmp_path, "byol", at_step, **changes)
    leaves = jax.tree.leaves
    pairs = zip(leaves(state.extra["target"]), leaves(state.params), strict=True)
    assert all(np.array_equal(t, p) for t, p in pairs)
    before = state.extra["target"]
    m = momentum
    expected = jax.tree.map(lambda t, p: m * t + (1 - m) * np.asarray(p), before, after.params)
    for got, want in zip(leaves(after.extra["target"]), leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    pairs = zip(leaves(after.params), leaves(before), strict=True)
    assert not all(np.array_equal(a, b) for a, b in pairs)


def test_byols_cosine_momentum_rises_from_its_base_to_one():
    got = [float(byol.cosine_momentum(0.99, jnp.asarray(k), 100)) for k in (0, 50, 100, 120)]
    np.testing.assert_allclose(got, [0.99, 0.995, 1.0, 1.0], rtol=0, atol=1e-7)


def test_moco_loss_is_info_nce_against_the_queue_and_keys_enter_it_first():
    rng = np.random.default_rng(8)
    q, k = rng.normal(size=(2, 3, 4)).astype(np.float32)
    queue = rng.normal(size=(5, 4)).astype(np.float32)
    queue /= np.linalg.norm(queue, axis=1, keepdims=True)
    qn, kn = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (q, k))
    expected = 0.0
    for i in range(3):
        logits = np.concatenate([[qn[i] @ kn[i]], queue @ qn[i]]) / 0.2
        expected += -(logits[0] - np.log(np.exp(logits).sum())) / 3
    np.testing.assert_allclose(float(moco.info_nce(q, k, queue, 0.2)), expected, rtol=1e-5)
    new = np.asarray(moco.enqueue(jnp.asarray(queue), jnp.asarray(k)))
    np.testing.assert_allclose(new[:3], kn, rtol=1e-5)
    np.testing.assert_array_equal(new[3:], queue[:2])  # The oldest two left.


def test_mocos_queue_takes_the_targets_keys_of_the_second_views(tmp_path):
    config, state, after = first_step(tmp_path, "moco", **{"moco.queue_size": 64})
    old = state.extra["queue"]
    new = np.asarray(after.extra["queue"])
    b = config.batch_size
    np.testing.assert_array_equal(new[b:], old[: 64 - b])
    np.testing.assert_allclose(np.linalg.norm(new[:b], axis=1), 1.0, rtol=1e-5)
    assert "target_out" not in after.extra


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("simclr.temperature", 0.0, "simclr.temperature=0.0 is invalid: it must be positive"),
        ("moco.momentum", 1.0, "moco.momentum=1.0 is invalid: it must be in [0, 1)"),
        ("moco.queue_size", 0, "moco.queue_size=0 is invalid: it must be a positive integer"),
        ("swav.queue_size", -1, "swav.queue_size=-1 is invalid: it must be 0 (no queue) or"),
        ("byol.momentum_schedule", "cos", "byol.momentum_schedule='cos' is invalid: it must be"),
        (
            "instdisc.nce_negatives",
            -1,
            "instdisc.nce_negatives=-1 is invalid: it must be 0 (the full softmax) or a positive",
        ),
    ],
)
def test_a_bad_objective_setting_is_one_sentence(tmp_path, key, value, message):
    from natjax.config_checks import check_config
    from natjax.errors import UserError

    config = tiny_config(str(tmp_path))
    config.update_from_flattened_dict({key: value})
    with pytest.raises(UserError, match=re.escape(message)):
        check_config(config)


def numpy_sinkhorn(scores, epsilon, iterations):
    q = np.exp(scores / epsilon).T
    q /= q.sum()
    k, b = q.shape
    for _ in range(iterations):
        q /= q.sum(1, keepdims=True) * k
        q /= q.sum(0, keepdims=True) * b
    return (q * b).T


def test_sinkhorn_gives_every_prototype_an_equal_share_as_numpy_does():
    scores = np.random.default_rng(9).uniform(-1, 1, (12, 4))
    codes = np.asarray(swav.sinkhorn(jnp.asarray(scores, jnp.float32), 0.05, 3))
    np.testing.assert_allclose(codes, numpy_sinkhorn(scores, 0.05, 3), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(codes.sum(1), 1.0, rtol=1e-5)  # The last scaling is exact.
    many = np.asarray(swav.sinkhorn(jnp.asarray(scores, jnp.float32), 0.5, 100))
    np.testing.assert_allclose(many.sum(0), 12 / 4, rtol=1e-4)  # Equipartition, converged.


def test_swav_loss_is_the_swapped_prediction_of_the_codes():
    rng = np.random.default_rng(10)
    out, prototypes = rng.normal(size=(8, 3)), rng.normal(size=(5, 3))
    settings = swav.Settings(5, temperature=0.1, epsilon=0.05, sinkhorn_iterations=3, queue_size=0)

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    scores = unit(out) @ unit(prototypes).T
    s1, s2 = scores[:4], scores[4:]
    q1, q2 = (numpy_sinkhorn(s, 0.05, 3) for s in (s1, s2))

    def log_softmax(s):
        s = s / 0.1
        return s - np.log(np.exp(s).sum(1, keepdims=True))

    expected = -0.5 * np.mean(np.sum(q2 * log_softmax(s1) + q1 * log_softmax(s2), 1))
    got = swav.loss(jnp.asarray(out, jnp.float32), jnp.asarray(prototypes, jnp.float32), settings)
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)


@needs_fashion_mnist
@pytest.mark.parametrize(
    "name, kept",
    [
        # Every kind of state kept in the step: own parameters, their optimizer state, a target.
        ("byol", {"params", "opt_state", "target"}),
        # State remade outside the step, by k-means before each epoch: the run is killed in the
        # first epoch, its labels come back from the checkpoint, the second epoch's pass repeats.
        ("deepcluster", {"labels", "weights", "params", "opt_state"}),
    ],
)
def test_a_killed_run_resumes_bitwise_with_its_objectives_state(tmp_path, name, kept):
    """SIGTERM mid-epoch, resume: the uninterrupted run's state, bit for bit."""
    workdir = tmp_path / "preempted"
    cmd = [*smoke_cmd(workdir), *PREEMPT_FLAGS, f"--config.objective={name}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for_step([proc], workdir, 5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == Preempted.EXIT_CODE, err[-2000:]
    config = preempt_config()
    config.objective = name
    resumed, straight = (train_only(config, d) for d in (workdir, tmp_path / "straight"))
    assert set(resumed.extra) == kept
    assert_same_state(resumed, straight)


def numpy_lloyd(x, centroids, rounds):
    for _ in range(rounds):
        labels = np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), 1)
        assert len(np.unique(labels)) == len(centroids)  # No empty cluster on this data.
        centroids = np.stack([x[labels == j].mean(0) for j in range(len(centroids))])
    labels = np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), 1)
    return centroids, labels


def test_kmeans_follows_lloyds_rounds_as_numpy_does():
    x = np.random.default_rng(11).normal(size=(200, 5)).astype(np.float32)
    key = jax.random.key(3)
    init = np.asarray(deepcluster.init_centroids(jax.random.split(key)[0], jnp.asarray(x), 6))
    assert len(np.unique(init, axis=0)) == 6  # Six distinct images.
    centroids, labels = deepcluster.kmeans(key, jnp.asarray(x), 6, 10)
    want_centroids, want_labels = numpy_lloyd(x, init, 10)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(centroids, want_centroids, rtol=1e-4, atol=1e-5)
    inertia = float(deepcluster.inertia(jnp.asarray(x), centroids, labels))
    np.testing.assert_allclose(inertia, ((x - want_centroids[want_labels]) ** 2).sum(), rtol=1e-4)
    start = float(deepcluster.inertia(jnp.asarray(x), init, deepcluster.assign(x, init)))
    assert inertia < start


def test_kmeans_reseeds_an_empty_cluster_by_splitting_a_full_one():
    """Four tight blobs, every centroid started on one image: all but one cluster are empty
    after the first round; re-seeding splits them out until each blob has its own."""
    rng = np.random.default_rng(12)
    corners = np.array([[5, 0], [-5, 0], [0, 5], [0, -5]], np.float32)
    x = np.concatenate([c + 0.1 * rng.normal(size=(25, 2)) for c in corners]).astype(np.float32)
    centroids = jnp.asarray(np.repeat(x[:1], 4, 0))
    for i in range(30):
        centroids = deepcluster.lloyd_round(jax.random.key(i), jnp.asarray(x), centroids)
    labels = np.asarray(deepcluster.assign(jnp.asarray(x), centroids))
    blobs = labels.reshape(4, 25)
    assert all(len(set(row)) == 1 for row in blobs) and len(set(blobs[:, 0])) == 4


def test_pca_whitening_keeps_the_leading_directions_at_unit_variance_as_numpy_does():
    rng = np.random.default_rng(19)
    x = rng.normal(size=(500, 4)) * [5.0, 2.0, 1.0, 0.5] @ np.linalg.qr(rng.normal(size=(4, 4)))[0]
    centred = x - x.mean(0)
    variances, directions = np.linalg.eigh(centred.T @ centred / len(x))
    for dim in (2, 4, 256):
        keep = min(dim, 4)
        top = directions[:, ::-1][:, :keep] / np.sqrt(variances[::-1][:keep] + 1e-5)
        want = centred @ top
        want /= np.linalg.norm(want, axis=1, keepdims=True)
        got = np.asarray(deepcluster.pca_whiten(jnp.asarray(x, jnp.float32), dim))
        assert got.shape == (500, keep)
        # Gram matrices: the same whatever sign each principal direction was given.
        np.testing.assert_allclose(got @ got.T, want @ want.T, atol=2e-4)


def test_deepcluster_loss_weighs_every_cluster_alike():
    labels = np.array([0, 0, 0, 1, 2, 2])  # Cluster 3 is empty.
    weights = np.asarray(deepcluster.cluster_weights(jnp.asarray(labels), 4))
    np.testing.assert_allclose(weights, [6 / 9, 6 / 3, 6 / 6, 0.0], rtol=1e-6)
    rng = np.random.default_rng(13)
    out = rng.normal(size=(3, 5)).astype(np.float32)
    kernel, bias = rng.normal(size=(5, 4)).astype(np.float32), np.ones(4, np.float32)
    ids = np.array([1, 3, 5])
    logits = out @ kernel + bias
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    want = np.mean([-weights[labels[i]] * logp[j, labels[i]] for j, i in enumerate(ids)])
    extra = {"params": {"kernel": kernel, "bias": bias}, "labels": labels, "weights": weights}
    np.testing.assert_allclose(float(deepcluster.loss(out, ids, extra)), want, rtol=1e-5)


def test_deepcluster_clusters_at_each_epochs_start_with_a_fresh_classifier(tmp_path):
    config = tiny_config(str(tmp_path))
    config.objective = "deepcluster"
    config.deepcluster.clusters = 12
    run = train.setup(config, str(tmp_path / "run"))
    state = train.initial_state(run, checkpointing.create_manager(str(tmp_path / "run")))
    images = run.dataset.train.images
    refresh = objectives.refresher(config, run.model, run.tx, images, run.step_cfg, run.mesh)
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
    new = objectives.refresh.refreshed_opt_state(tx, {"w": jnp.zeros(3)}, old)
    counts = [x for x in jax.tree.leaves(new) if jnp.issubdtype(x.dtype, jnp.integer)]
    moments = [x for x in jax.tree.leaves(new) if not jnp.issubdtype(x.dtype, jnp.integer)]
    assert counts and all(int(c) == 1 for c in counts)
    assert moments and all(not np.any(m) for m in moments)


def test_more_clusters_than_images_is_one_sentence(tmp_path):
    from natjax.errors import UserError

    config = tiny_config(str(tmp_path))
    config.objective = "deepcluster"
    config.deepcluster.clusters = 500
    with pytest.raises(UserError, match="deepcluster.clusters=500 is more than the 96 training"):
        train.train_and_evaluate(config, str(tmp_path / "run"))


def test_instdisc_nce_loss_is_the_papers_against_uniform_noise():
    rng = np.random.default_rng(14)
    out = rng.normal(size=(3, 4)).astype(np.float32)
    bank = rng.normal(size=(10, 4)).astype(np.float32)
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    ids, noise, t = np.array([0, 4, 7]), np.array([1, 4, 9, 9]), 0.5
    f = out / np.linalg.norm(out, axis=1, keepdims=True)
    own = np.exp(np.sum(f * bank[ids], 1) / t)
    others = np.exp(f @ bank[noise].T / t)
    for z in (3.0, 10 * np.mean(np.concatenate([own[:, None], others], 1))):  # Given; estimated.
        mass = 4 / 10
        h_own = (own / z) / (own / z + mass)
        h_others = (others / z) / (others / z + mass)
        want = np.mean(-np.log(h_own) - np.log(1 - h_others).sum(1))
        given = jnp.float32(z if z == 3.0 else 0.0)
        got, used = instdisc.nce_loss(out, ids, noise, bank, given, t)
        np.testing.assert_allclose(float(got), want, rtol=1e-5)
        np.testing.assert_allclose(float(used), z, rtol=1e-5)


def test_instdisc_nce_estimates_its_normaliser_once_and_keeps_it(tmp_path):
    config, state, after = first_step(tmp_path, "instdisc", **{"instdisc.nce_negatives": 8})
    assert float(state.extra["z"]) == 0.0 and set(after.extra) == {"bank", "z"}
    z = float(after.extra["z"])
    assert np.isfinite(z) and z > 0
    run = train.setup(config, str(tmp_path / "run"))
    batch = train.sharding.put_batch(next(train.batches(run, 1)), run.mesh, config.batch_size)
    later, _ = train.compile_step(run)(after, batch)
    assert float(later.extra["z"]) == z
    assert not np.array_equal(later.extra["bank"], after.extra["bank"])


def test_swavs_queue_joins_sinkhorn_once_full_and_takes_each_views_projections():
    rng = np.random.default_rng(15)
    out, prototypes = rng.normal(size=(8, 3)), rng.normal(size=(5, 3))
    queue = rng.normal(size=(2, 6, 3))
    queue /= np.linalg.norm(queue, axis=-1, keepdims=True)
    settings = swav.Settings(5, 0.1, 0.05, 3, queue_size=6)

    def unit(a):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    def log_softmax(s):
        return s / 0.1 - np.log(np.exp(s / 0.1).sum(1, keepdims=True))

    scores = unit(out) @ unit(prototypes).T
    s1, s2 = scores[:4], scores[4:]
    queued = [unit(q) @ unit(prototypes).T for q in queue]
    pairs = zip(queued, (s1, s2), strict=True)
    q1, q2 = (numpy_sinkhorn(np.concatenate([q, s]), 0.05, 3)[-4:] for q, s in pairs)
    expected = -0.5 * np.mean(np.sum(q2 * log_softmax(s1) + q1 * log_softmax(s2), 1))
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    got = swav.loss(f32(out), f32(prototypes), settings, f32(queue))
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)
    filling = queue.copy()
    filling[:, -1] = 0  # Not full yet: the batch's codes alone, as without a queue.
    alone = swav.loss(f32(out), f32(prototypes), settings)
    filled = swav.loss(f32(out), f32(prototypes), settings, f32(filling))
    np.testing.assert_allclose(float(filled), float(alone), rtol=1e-6)
    new = np.asarray(swav.enqueue(f32(queue), f32(out)))
    np.testing.assert_allclose(new[0, :4], unit(out[:4]), rtol=1e-5)
    np.testing.assert_allclose(new[1, :4], unit(out[4:]), rtol=1e-5)
    np.testing.assert_allclose(new[:, 4:], queue[:, :2], rtol=1e-6)  # The oldest four left.


def test_swavs_multi_crop_loss_predicts_each_views_codes_from_every_other_crop():
    """The paper's code: codes from the two large views; each predicted by the `V + 1` other
    crops, averaged, then over the two views."""
    rng = np.random.default_rng(17)
    b, v = 4, 3
    out, prototypes = rng.normal(size=((2 + v) * b, 3)), rng.normal(size=(5, 3))
    settings = swav.Settings(5, 0.1, 0.05, 3, queue_size=0, small_crops=v)

    def unit(a):
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    def log_softmax(s):
        return s / 0.1 - np.log(np.exp(s / 0.1).sum(1, keepdims=True))

    crops = np.split(unit(out) @ unit(prototypes).T, 2 + v)
    expected = 0.0
    for i in (0, 1):
        q = numpy_sinkhorn(crops[i], 0.05, 3)
        others = [c for j, c in enumerate(crops) if j != i]
        expected -= sum(np.mean(np.sum(q * log_softmax(c), 1)) for c in others) / (1 + v)
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    got = swav.loss(f32(out), f32(prototypes), settings)
    np.testing.assert_allclose(float(got), expected / 2, rtol=1e-4)


def test_swavs_small_crops_are_a_second_group_of_smaller_views():
    images = np.random.default_rng(18).integers(0, 256, (4, 28, 28, 1), np.uint8)
    cfg = StepConfig(1, 0, "auction", 0, 4, 28, crop_padding=0, flip=True, views=ViewSpec())
    key, batch = jax.random.key(0), {"images": images}
    settings = swav.Settings(5, 0.1, 0.05, 3, 0, small_crops=3)
    (large, small), aux = swav.multi_crop(settings)(key, batch, cfg)
    assert aux is None and small.shape == (12, 12, 12, 1)  # 28 * 96 / 224 px, as the paper's.
    np.testing.assert_array_equal(large, simclr.two_views(key, batch, cfg)[0])
    assert len({np.asarray(crop).tobytes() for crop in np.split(small, 3)}) == 3
    sized = dataclasses.replace(settings, small_crop_size=7)
    assert swav.multi_crop(sized)(key, batch, cfg)[0][1].shape == (12, 7, 7, 1)


def test_swav_multi_crop_trains_on_pooled_features_and_queues_the_two_views(tmp_path):
    changes = {"swav.small_crops": 2, "swav.queue_size": 32, "model.pool": "avg"}
    config, state, after = first_step(tmp_path, "swav", **changes)
    b = config.batch_size
    queue = np.asarray(after.extra["queue"])
    assert queue.shape[1] == 32 and not np.any(queue[:, b:])
    np.testing.assert_allclose(np.linalg.norm(queue[:, :b], axis=-1), 1.0, rtol=1e-5)
    moved = jax.tree.leaves(jax.tree.map(np.array_equal, state.batch_stats, after.batch_stats))
    assert not any(moved)  # The running statistics moved.


def test_multi_crop_on_flattened_features_is_one_sentence(tmp_path):
    from natjax.config_checks import check_config
    from natjax.errors import UserError

    config = tiny_config(str(tmp_path))
    config.update_from_flattened_dict({"objective": "swav", "swav.small_crops": 2})
    with pytest.raises(UserError, match=re.escape("add --config.model.pool=avg")):
        check_config(config)
    config.model.pool = "avg"
    check_config(config)


def test_swavs_queue_fills_from_the_step(tmp_path):
    config, state, after = first_step(tmp_path, "swav", **{"swav.queue_size": 32})
    b = config.batch_size
    assert not np.any(state.extra["queue"])
    queue = np.asarray(after.extra["queue"])
    np.testing.assert_allclose(np.linalg.norm(queue[:, :b], axis=-1), 1.0, rtol=1e-5)
    assert not np.any(queue[:, b:])


def test_instdisc_nce_loss_falls_under_gradient_steps_on_a_fixed_bank():
    rng = np.random.default_rng(16)
    bank = instdisc.init_bank(jax.random.key(0), 1000, 16)["bank"]
    out = jnp.asarray(rng.normal(size=(32, 16)), jnp.float32)
    ids, noise = jnp.arange(32), jnp.asarray(rng.integers(0, 1000, 256))
    _, z = instdisc.nce_loss(out, ids, noise, bank, jnp.float32(0), 0.07)
    step = jax.jit(jax.value_and_grad(lambda o: instdisc.nce_loss(o, ids, noise, bank, z, 0.07)[0]))
    losses = []
    for _ in range(100):
        loss, grad = step(out)
        losses.append(float(loss))
        out = out - 0.01 * grad
    assert losses[-1] < losses[0] and all(np.diff(losses) < 0)

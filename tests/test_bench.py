"""The benchmarks run and report what they claim (their timings are not checked here)."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

import natjax.objectives
from conftest import ROOT
from natjax.assignment import fused
from natjax.bench import assignment, scaling, step
from natjax.bench import scores as families
from natjax.errors import UserError


def test_assignment_bench_reports_every_solver_and_an_exact_auction():
    scores = families.random_scores(16, seed=0)
    row = assignment.bench_case("random", scores, ("auction", "cold", "pallas_k8"), repeats=1)
    assert {"auction", "cold", "pallas_k8", "hungarian", "scipy_roundtrip"} <= row["seconds"].keys()
    assert all(row["converged"].values()) and all(abs(g) < 1e-5 for g in row["gap"].values())
    assert all(t > 0 for t in row["seconds"].values()) and row["rounds"]["auction"] > 0
    assert row["us_per_round"]["auction"] > 0
    assert "random | 16 |" in assignment.format_table([row])


def test_score_families_have_their_shapes():
    b = 12
    for name, make in families.SYNTHETIC.items():
        assert make(b, seed=1).shape == (b, b), name
    dup = families.duplicated(b, seed=1)
    np.testing.assert_array_equal(dup[0::2], dup[1::2])
    assert len(np.unique(families.ties(b, seed=1))) <= 4


def test_nat_scores_at_init_and_from_a_trained_run(tmp_path):
    """NAT's own problem: features against the targets the images hold; from a trained run,
    the assignment that run holds."""
    from conftest import tiny_config
    from natjax.train import train_and_evaluate

    config = tiny_config(str(tmp_path))
    s = families.init_source(config).scores(16, seed=0)
    assert s.shape == (16, 16) and np.all(np.abs(s) <= 1 + 1e-5)  # Cosines.
    workdir = str(tmp_path / "run")
    with pytest.raises(UserError, match="not a natjax workdir"):
        families.trained_source(str(tmp_path / "none"))
    train_and_evaluate(config, workdir)
    trained = families.trained_source(workdir)
    assert int(trained.state.step) > 0 and trained.scores(16, seed=0).shape == (16, 16)
    perm = np.asarray(trained.state.perm)
    assert sorted(perm.tolist()) == list(range(len(perm)))


def test_assignment_sweep_counts_rounds_for_each_setting():
    rows = assignment.sweep_case("random", families.random_scores(32, seed=0))
    assert [r["bidders"] for r in rows] == [fused.default_bidders(32), 1]
    assert set(rows[0]["sweep_rounds"]) == set(assignment.SWEEP.values())
    assert all(v > 0 for r in rows for v in r["sweep_rounds"].values())
    assert "total |  | 1 |" in assignment.format_table(rows)


def test_summary_states_the_default_schedule_ratio():
    from natjax.bench import summary

    row = {
        "images_per_second": {"supervised": 100.0, "nat_no_reassign": 100.0, "nat_reassign": 50.0}
    }
    # One step in three takes twice as long: 3 steps in 4 time units, 0.75 of supervised.
    assert abs(summary.default_schedule_ratio(row) - 0.75) < 1e-12


def test_summary_tabulates_the_input_and_decode_benchmarks(tmp_path):
    import json

    from natjax.bench import summary

    row = {
        "dataset": "cifar10",
        "encoder": "resnet18",
        "images_per_second": {"pipeline": 60000.0, "step": 40000.0, "loop": 39000.0},
        "loop_vs_step": 0.975,
    }
    path = tmp_path / "bench-input.json"
    path.write_text(json.dumps({"machine": "gpu: H100 x1", "benchmark": "input", "rows": [row]}))
    assert "cifar10 | resnet18 | 60,000 | 40,000 | 0.975" in summary.summarize([str(path)])
    decoded = {"workers": 4, "cores": 16, "images_per_second": 9000.0}
    path.write_text(json.dumps({"machine": "gpu", "benchmark": "decode", "rows": [decoded]}))
    assert "4 | 16 | 9,000" in summary.summarize([str(path)])


def test_step_bench_compares_the_steps_on_one_batch(capsys):
    row = step.bench_case("small_convnet", 28, 1, 16, repeats=1)
    objectives = set(step.OBJECTIVES)
    assert row["images_per_second"].keys() == {"nat_reassign", "nat_no_reassign", *objectives}
    assert all(v > 0 for v in row["images_per_second"].values())
    views = row["views_vs_supervised"]
    assert objectives == set(natjax.objectives.NAMES) - {"nat"}  # Every objective gets a row.
    assert views.keys() == objectives and views["supervised"] == 1.0
    # SimCLR's step sees 2 views of each of the 16 images, RotNet's 4.
    ips = row["images_per_second"]
    assert views["simclr"] == pytest.approx(2 * ips["simclr"] / ips["supervised"])
    assert views["rotation"] == pytest.approx(4 * ips["rotation"] / ips["supervised"])
    table = step.format_table([row])
    assert "small_convnet | float32 | 28 | 16" in table
    names = step.OBJECTIVES[1:]
    others = ", ".join(f"{views[n]:.3f}" for n in names)
    assert table.splitlines()[-1].endswith(others)
    compiled = {"init", "nat_reassign", "nat_no_reassign", "features", "reassign", *objectives}
    assert row["compile_seconds"].keys() == compiled
    assert all(s > 0 for s in row["compile_seconds"].values())
    assert "small_convnet 28 px batch 16 float32: compiled supervised in" in capsys.readouterr().err
    # Per 28 px image: Sobel (28^2 x 2 x 9), three 3x3 convs (2 -> 32 at 28^2, 32 -> 64 at 14^2,
    # 64 -> 128 at 7^2) and the 64-d projection of the 7 x 7 x 128 map; 2 FLOPs a MAC.
    convs = 28**2 * 2 * 9 + 28**2 * 32 * 9 * 2 + 14**2 * 64 * 9 * 32 + 7**2 * 128 * 9 * 64
    assert row["forward_gflops_per_image"] * 1e9 == 2 * (convs + 7 * 7 * 128 * 64)


def test_bench_cli_writes_json(tmp_path):
    out = tmp_path / "a.json"
    cmd = [sys.executable, "-m", "natjax.bench", "assignment", "--only", "8", "--json", str(out)]
    cmd += ["--scores", "random,constant", "--variants", "auction,xla"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["benchmark"] == "assignment" and report["rows"][0]["b"] == 8
    assert [r["family"] for r in report["rows"]] == ["random", "constant"]
    assert set(report["rows"][0]["rounds"]) == {"auction", "xla"}
    bad = subprocess.run(cmd[:-4] + ["--scores", "magic"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "Unknown score family or variant: magic" in bad.stderr


def test_step_bench_cli_reports_each_case_as_it_goes(tmp_path):
    out = tmp_path / "step.json"
    cmd = [sys.executable, "-m", "natjax.bench", "step", "--only", "small_convnet"]
    cmd += ["--batch", "8", "--repeats", "1", "--json", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert row["batch"] == 8 and row["forward_gflops_per_image"] > 0
    assert row["compile_seconds"]["nat_reassign"] > 0
    assert "compiled nat_reassign in" in result.stderr
    assert "small_convnet | float32 | 28 | 8 |" in result.stderr  # The row, when done.


def test_scaling_bench_times_the_global_and_local_assignment():
    row = scaling.bench_case(1, 16, repeats=1)
    assert row["images_per_second"].keys() == {"none", "global", "local"}
    assert all(0 < s < 10 for s in row["assignment_share"].values())
    assert "small_convnet | 1 | 16" in scaling.format_table([row])


def test_input_bench_times_pipeline_step_and_loop_on_one_run(tmp_path):
    from conftest import tiny_config
    from natjax.bench import input_pipeline

    row = input_pipeline.bench_config(tiny_config(str(tmp_path)), steps=2, rounds=1)
    assert row["images_per_second"].keys() == {"pipeline", "step", "loop"}
    assert all(v > 0 for v in row["images_per_second"].values())
    assert "fashion_mnist | small_convnet | 16 |" in input_pipeline.format_table([row])


def _image_macs(encoder: str, size: int, input_filter: str) -> float:
    """The MACs per image of `encoder` as the step benchmark configures it."""
    from natjax.bench import flops
    from natjax.models import create_model

    config = step._config(encoder)
    config.input.filter = input_filter
    return flops.image_flops(create_model(config), (size, size, 3)) / 2


def test_flop_count_of_one_dense_and_one_grouped_strided_conv():
    import flax.linen as nn

    from natjax.bench import flops

    class Two(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Conv(8, (3, 3), (2, 2), feature_group_count=2)(x)  # [1, 6, 6, 4] -> [1, 3, 3, 8]
            return nn.Dense(5)(x.reshape(1, -1))  # 72 -> 5

    x = jax.ShapeDtypeStruct((1, 6, 6, 4), np.float32)
    variables = jax.eval_shape(Two().init, jax.random.PRNGKey(0), x)
    jaxpr = jax.make_jaxpr(Two().apply)(variables, x)
    # 72 outputs x 9 taps x 2 input features per group, then 72 x 5.
    assert flops.macs(jaxpr) == 72 * 9 * 2 + 72 * 5


def test_flop_count_enters_scan_cond_and_remat():
    from natjax.bench import flops

    def f(x):
        x = jax.lax.scan(lambda c, _: (c @ c, None), x, None, length=3)[0]  # 3 x 64 MACs.
        x = jax.lax.cond(x[0, 0] > 0, lambda a: a @ a, lambda a: a @ a @ a, x)  # The costlier.
        return jax.jit(jax.checkpoint(lambda a: jax.nn.relu(a) @ a))(x)  # 64.

    assert flops.macs(jax.make_jaxpr(f)(np.ones((4, 4), np.float32))) == (3 + 2 + 1) * 64


def test_flop_count_of_resnet50_at_224px_is_the_published_one():
    # torchvision's ResNet-50 (v1.5): 4.09 G multiply-adds, plus the NAT head of the `imagenet`
    # preset (2048 -> 4096 -> 4096 -> 4096: 41.9 M).
    published = 4.09e9 + (2048 + 4096 + 4096) * 4096
    assert abs(_image_macs("resnet50", 224, "raw") / published - 1) < 0.01


def test_flop_count_of_the_cifar_resnet18_is_the_published_one():
    # kuangliu/pytorch-cifar's ResNet18 (3x3 stem, no max-pool, 10-way fc): 0.556 G MACs.
    macs = _image_macs("resnet18", 32, "raw")
    assert abs(macs / 0.556e9 - 1) < 0.005
    # Sobel's 2 channels take a third of the stem's 1.77 M MACs (32 x 32 x 64 x 9 x 1) and
    # add the filter's own (32 x 32 x (3 + 9 x 2)).
    assert _image_macs("resnet18", 32, "sobel") == macs - 32 * 32 * 64 * 9 + 32 * 32 * 21


def test_step_bench_writes_a_profile_and_has_no_peak_on_cpu(tmp_path):
    row = step.bench_case("small_convnet", 28, 1, 8, repeats=1, profile_dir=str(tmp_path))
    assert list(tmp_path.glob("small_convnet_28px_b8_float32/plugins/profile/*/*.xplane.pb"))
    assert row["forward_gflops_per_image"] > 0 and row["mfu"] is None


def test_step_bench_runs_the_gpu_encoders_only_on_an_accelerator():
    assert step.cases("cpu") == step.CPU_CASES
    gpu = step.cases("gpu")
    assert {("alexnet_bn", 224, 3, 1024), ("resnet50", 224, 3, 256)} <= set(gpu)
    assert ("resnet50", 224, 3, 1024) not in gpu  # Only with --batch.
    assert ("resnet50", 224, 3, 1024) in step.cases("gpu", (256, 1024))
    assert step.cases("cpu", (8,)) == (("small_convnet", 28, 1, 8), ("resnet18", 32, 3, 8))
    assert step.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert step.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert step.peak_flops("cpu") is None


def test_step_bench_reports_a_case_out_of_memory_and_goes_on(monkeypatch, capsys):
    def bench_case(encoder, size, channels, b, *args):
        if encoder == "resnet18":
            raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating")
        return {
            "encoder": encoder,
            "dtype": "float32",
            "image_size": size,
            "batch": b,
            "error": "-",
        }

    monkeypatch.setattr(step, "bench_case", bench_case)
    reported = []
    rows = step.run(repeats=1, report=lambda rows: reported.append(len(rows)))
    assert rows[0]["encoder"] == "small_convnet" and rows[1]["error"] == "out of memory"
    assert "resnet18 | float32 | 32 | 256 | out of memory" in step.format_table(rows[1:])
    assert reported == [1, 2]  # After each case.
    assert "resnet18 | float32 | 32 | 256 | out of memory" in capsys.readouterr().err


def test_kernel_bench_lowers_the_fused_kernel_to_triton_ir():
    """jaxlib alone gives the Triton IR: one program whose rounds are a device loop."""
    from natjax.bench import kernel

    text = kernel.triton_ir(100, 16, 4)
    assert "tt.func public @natjax_auction" in text and "scf.while" in text
    assert (16, 4) in kernel.configs(100) and kernel.default_config(256) == (16, 8)


def test_kernel_bench_compiles_for_hopper_where_triton_is_installed():
    pytest.importorskip("triton", reason="compiling the IR needs `pip install triton`")
    from natjax.bench import kernel

    usage = kernel.resources(kernel.triton_ir(256, 16, 8), 8)
    assert 0 < usage["REG"] <= 255 and usage["STACK"] == 0  # The b = 256 default: no spills.


def test_step_bench_times_the_objectives_asked_for_beside_the_supervised_step():
    row = step.bench_case("small_convnet", 28, 1, 8, repeats=1, names=("simclr",))
    assert row["images_per_second"].keys() == {
        "nat_reassign",
        "nat_no_reassign",
        "supervised",
        "simclr",
    }
    assert row["views_vs_supervised"].keys() == {"supervised", "simclr"}
    cells = step.format_table([row]).splitlines()[-1].rsplit("|", 1)[-1].split(", ")
    assert len(cells) == len(step.OBJECTIVES) - 1 and cells.count("–") == len(cells) - 1
    cmd = [sys.executable, "-m", "natjax.bench", "step", "--objectives", "simclr,magic"]
    bad = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown --objectives magic; use any of" in bad.stderr


def test_step_bench_makes_the_objectives_states_for_the_whole_training_set():
    """InstDisc's softmax runs over one bank entry per training image, as in training, not one
    per image of the timed batch."""
    config = step._config("small_convnet")
    images = np.zeros((8, 28, 28, 1), np.uint8)
    batch = {"images": images, "ids": np.arange(8, dtype=np.int32)}
    tx = step.optimizer(config)
    run, _, _ = step._objective(config, "instdisc", images, batch, tx)
    assert run.holder["state"].extra["bank"].shape[0] == step.TRAIN_EXAMPLES["fashion_mnist"]
    run, _, _ = step._objective(config, "deepcluster", images, batch, tx)
    assert run.holder["state"].extra["labels"].shape == (60_000,)

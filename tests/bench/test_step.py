"""`python -m natjax.bench step` (`natjax.bench.step`): NAT's steps and every objective's on
one batch, built as training builds them, with their compile times, FLOPs and MFU."""

import jax
import numpy as np
import pytest

from natjax import objectives
from natjax.bench import step
from natjax.objectives import nat


def test_the_benched_steps_are_the_ones_training_builds():
    config = step._config("small_convnet")
    every = step.nat_config(config, 0, "local")
    assert (every.nat.reassign_every, every.nat.scope) == (0, "local")
    assert config.nat.reassign_every == 3  # A changed copy.
    simclr = objectives.build(step.nat_config(config, 1).copy_and_resolve_references())
    cfg = step.step_config(config, simclr, 28)
    assert (cfg.steps_per_epoch, cfg.crop_size, cfg.crop_padding) == (1, 28, 2)
    fn = step.nat_step(config, None, None, 28)
    assert fn.keywords["objective"].name == "nat" and fn.keywords["cfg"].views is None
    assert nat.settings_of(config).reassign_every == 3
    assert set(step.OBJECTIVES) == set(objectives.names()) - {"nat"}  # Every objective timed.


@pytest.mark.slow
def test_step_bench_compares_the_steps_on_one_batch(capsys):
    row = step.bench_case("small_convnet", 28, 1, 16, repeats=1)
    names = set(step.OBJECTIVES)
    assert row["images_per_second"].keys() == {"nat_reassign", "nat_no_reassign", *names}
    assert all(v > 0 for v in row["images_per_second"].values())
    views = row["views_vs_supervised"]
    assert names == set(objectives.names()) - {"nat"}  # Every objective gets a row.
    assert views.keys() == names and views["supervised"] == 1.0
    # SimCLR's step sees 2 views of each of the 16 images, RotNet's 4.
    ips = row["images_per_second"]
    assert views["simclr"] == pytest.approx(2 * ips["simclr"] / ips["supervised"])
    assert views["rotation"] == pytest.approx(4 * ips["rotation"] / ips["supervised"])
    table = step.format_table([row])
    assert "small_convnet | float32 | 28 | 16" in table
    others = ", ".join(f"{views[n]:.3f}" for n in step.OBJECTIVES[1:])
    assert table.splitlines()[-1].endswith(others)
    compiled = {"init", "nat_reassign", "nat_no_reassign", "features", "reassign", *names}
    assert row["compile_seconds"].keys() == compiled
    assert all(s > 0 for s in row["compile_seconds"].values())
    assert "small_convnet 28 px batch 16 float32: compiled supervised in" in capsys.readouterr().err
    # Per 28 px image: Sobel (28^2 x 2 x 9), three 3x3 convs (2 -> 32 at 28^2, 32 -> 64 at 14^2,
    # 64 -> 128 at 7^2) and the 64-d projection of the 7 x 7 x 128 map; 2 FLOPs a MAC.
    convs = 28**2 * 2 * 9 + 28**2 * 32 * 9 * 2 + 14**2 * 64 * 9 * 32 + 7**2 * 128 * 9 * 64
    assert row["forward_gflops_per_image"] * 1e9 == 2 * (convs + 7 * 7 * 128 * 64)


@pytest.mark.slow
def test_step_bench_writes_a_profile_and_has_no_peak_on_cpu(tmp_path):
    row = step.bench_case(
        "small_convnet", 28, 1, 8, repeats=1, profile_dir=str(tmp_path), names=("supervised",)
    )
    assert list(tmp_path.glob("small_convnet_28px_b8_float32/plugins/profile/*/*.xplane.pb"))
    assert row["forward_gflops_per_image"] > 0 and row["mfu"] is None


@pytest.mark.slow
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


@pytest.mark.slow
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

"""The presets of `configs/nat.py`: each one valid and as documented, and each run end to end
(one short epoch) on tiny made-up image folders."""

import numpy as np
import pytest
from PIL import Image

from configs.nat import get_config
from natjax import objectives
from natjax.training import train_and_evaluate
from natjax.training.config_checks import check_config

PRESETS = ("default", "smoke", "ablation", "cifar10", "cifar10_strong", "cifar10_cpu", "imagenet")


def make_folder(root, size, test_split, n_train=8, n_test=4):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), (test_split, n_test)):
        for i in range(n):
            cls = f"c{i % 2}"
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / cls / f"{i}.png")
    return root


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_is_a_valid_config_with_every_objectives_settings(preset):
    config = get_config(preset)
    check_config(config)
    assert config.objective == "nat"
    for name, section in objectives.default_settings().items():
        assert set(config[name].to_dict()) == set(section.to_dict()), (preset, name)


def test_the_presets_change_what_their_docstrings_say():
    default, smoke = get_config(), get_config("smoke")
    assert (default.data.name, default.model.encoder, default.batch_size) == (
        "fashion_mnist",
        "small_convnet",
        256,
    )
    assert (smoke.data.max_train_examples, smoke.batch_size, smoke.num_epochs) == (2048, 128, 2)
    ablation = get_config("ablation")
    assert ablation.data.max_train_examples == 10000 and ablation.data.subset == "first"
    assert ablation.eval.monitor_every_epochs == 0
    cifar = get_config("cifar10")
    assert (cifar.data.name, cifar.model.encoder, cifar.model.target_dim) == (
        "cifar10",
        "resnet18",
        128,
    )
    strong = get_config("cifar10_strong")
    assert (strong.input.views, strong.input.filter, strong.model.head_widths) == (
        "strong",
        "raw",
        (512,),
    )
    assert get_config("cifar10_cpu").model.encoder == "small_convnet"
    imagenet = get_config("imagenet")
    assert (imagenet.model.encoder, imagenet.input.crop_size, imagenet.nat.reassign_every) == (
        "alexnet_bn",
        224,
        3,
    )


def test_unknown_preset_names_the_choices():
    choices = "ablation, cifar10, cifar10_cpu, cifar10_strong, default, imagenet, smoke"
    with pytest.raises(ValueError, match=choices):
        get_config("imagenet21k")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "feature_dim"),
    [("cifar10", 512), ("cifar10_strong", 512), ("cifar10_cpu", 8192), ("imagenet", 9216)],
)
def test_preset_runs_one_epoch(tmp_path, preset, feature_dim):
    config = get_config(preset)
    size = config.data.image_size
    config.data.source = f"folder:{make_folder(tmp_path / 'data', size, config.data.test_split)}"
    config.update(batch_size=4, num_epochs=1, progress_bar=False)
    config.eval.update(knn_k=2, batch_size=4)
    config.eval.linear.epochs = 1  # Was probe_steps=5 (L-BFGS): the probes' cheapest fit.
    summary = train_and_evaluate(config, str(tmp_path / "workdir"))
    assert summary["steps"] == 2 and np.isfinite(summary["final_loss"])
    assert summary["feature_dim"] == feature_dim
    # 256 px RGB is too large for the raw-pixel probe; 32 px is not.
    assert ("baseline_raw_pixels_linear_top1" in summary) == preset.startswith("cifar10")

"""Every preset runs end to end (one short epoch) on tiny made-up image folders."""

import numpy as np
import pytest
from PIL import Image

from configs.nat import get_config
from natjax.train import train_and_evaluate


def make_folder(root, size, test_split, n_train=8, n_test=4):
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), (test_split, n_test)):
        for i in range(n):
            cls = f"c{i % 2}"
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / cls / f"{i}.png")
    return root


@pytest.mark.parametrize(
    ("preset", "feature_dim"),
    [("cifar10", 512), ("cifar10_strong", 512), ("cifar10_cpu", 8192), ("imagenet", 9216)],
)
def test_preset_runs_one_epoch(tmp_path, preset, feature_dim):
    config = get_config(preset)
    size = config.data.image_size
    config.data.source = f"folder:{make_folder(tmp_path / 'data', size, config.data.test_split)}"
    config.update(batch_size=4, num_epochs=1, progress_bar=False)
    config.eval.update(knn_k=2, probe_steps=5, batch_size=4)
    summary = train_and_evaluate(config, str(tmp_path / "workdir"))
    assert summary["steps"] == 2 and np.isfinite(summary["final_loss"])
    assert summary["feature_dim"] == feature_dim
    # 256 px RGB is too large for the raw-pixel probe; 32 px is not.
    assert ("baseline_raw_pixels_linear_top1" in summary) == preset.startswith("cifar10")


def test_unknown_preset_names_the_choices():
    choices = "ablation, cifar10, cifar10_cpu, cifar10_strong, default, imagenet, smoke"
    with pytest.raises(ValueError, match=choices):
        get_config("imagenet21k")

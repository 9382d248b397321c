"""`python -m natjax.bench input` (`natjax.bench.input_pipeline`): the pipeline, the step and
the loop that runs both, on one run."""

import pytest

from natjax.bench import input_pipeline
from tests.helpers import tiny_config


@pytest.mark.slow
def test_input_bench_times_pipeline_step_and_loop_on_one_run(tmp_path):
    row = input_pipeline.bench_config(tiny_config(str(tmp_path)), steps=2, rounds=1)
    assert row["images_per_second"].keys() == {"pipeline", "step", "loop"}
    assert all(v > 0 for v in row["images_per_second"].values())
    table = input_pipeline.format_table([row])
    assert "fashion_mnist | in memory | small_convnet | 16 |" in table
    config = tiny_config(str(tmp_path))
    config.data.decode_workers = 2
    rows = input_pipeline.bench_config(config, steps=2, rounds=1, rows_in_workers=True)
    assert rows["images"] == "in memory, rows read by 2 processes"
    assert all(v > 0 for v in rows["images_per_second"].values())


def test_the_table_shows_each_rate_and_the_ratios():
    row = {
        "dataset": "cifar10",
        "encoder": "resnet18",
        "batch": 256,
        "images": "decoded by 16 processes",
        "images_per_second": {"pipeline": 60000.0, "step": 40000.0, "loop": 39000.0},
        "pipeline_vs_step": 1.5,
        "loop_vs_step": 0.975,
    }
    assert input_pipeline.format_table([row]).splitlines()[-1] == (
        "cifar10 | decoded by 16 processes | resnet18 | 256 | 60000 | 40000 | 39000 | 1.5x | 0.975"
    )

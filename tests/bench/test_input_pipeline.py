"""`python -m natjax.bench input` (`natjax.bench.input_pipeline`): the pipeline, the step and
the loop that runs both, on one run."""

from natjax.bench import input_pipeline
from tests.helpers import tiny_config


def test_input_bench_times_pipeline_step_and_loop_on_one_run(tmp_path):
    row = input_pipeline.bench_config(tiny_config(str(tmp_path)), steps=2, rounds=1)
    assert row["images_per_second"].keys() == {"pipeline", "step", "loop"}
    assert all(v > 0 for v in row["images_per_second"].values())
    assert "fashion_mnist | small_convnet | 16 |" in input_pipeline.format_table([row])

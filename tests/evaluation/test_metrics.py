"""The scalars a run records (`natjax.evaluation.metrics`): JSON lines and TensorBoard."""

import glob
import json
import os

import numpy as np

from natjax.evaluation.metrics import METRICS_FILE, MetricsWriter, read_metrics


def test_metrics_go_to_jsonl_and_tensorboard_and_a_rewritten_step_keeps_its_last_value(tmp_path):
    writer = MetricsWriter(str(tmp_path))
    writer.write(4, loss=1.5, changed_fraction=0.9)
    writer.write(8, loss=1.25)
    writer.write(8, loss=1.0, knn_top1=0.5)  # E.g. recorded again after a resume.
    writer.close()
    series = read_metrics(str(tmp_path))
    np.testing.assert_array_equal(series["loss"][0], [4, 8])
    np.testing.assert_array_equal(series["loss"][1], [1.5, 1.0])
    assert series["knn_top1"][1].tolist() == [0.5]
    events = glob.glob(os.path.join(tmp_path, "tensorboard", "events.out.tfevents.*"))
    assert events and os.path.getsize(events[0]) > 0


def test_a_resumed_run_appends_and_a_workdir_without_metrics_has_none(tmp_path):
    assert read_metrics(str(tmp_path)) == {}
    for step in (1, 2):
        writer = MetricsWriter(str(tmp_path), start=step - 1)
        writer.write(step, loss=float(step))
        writer.close()
    assert (tmp_path / METRICS_FILE).read_text().count("\n") == 2
    assert read_metrics(str(tmp_path))["loss"][0].tolist() == [1, 2]


def test_a_resume_from_an_earlier_step_keeps_one_line_per_step(tmp_path):
    """Killed at step 5, mid-write, with step 3 the last checkpoint: steps 4 and 5 run again."""
    writer = MetricsWriter(str(tmp_path))
    for step in range(1, 6):
        writer.write(step, loss=float(step))
    writer.close()
    with open(tmp_path / METRICS_FILE, "a") as f:
        f.write('{"step": 6, "lo')
    writer = MetricsWriter(str(tmp_path), start=3)
    for step in (4, 5):
        writer.write(step, loss=10.0 * step)
    writer.close()
    lines = (tmp_path / METRICS_FILE).read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4, 5]
    assert read_metrics(str(tmp_path))["loss"][1].tolist() == [1, 2, 3, 40, 50]

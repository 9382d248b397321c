import glob
import os

import numpy as np

from natjax import monitor


def test_metrics_go_to_jsonl_and_tensorboard_and_a_rewritten_step_keeps_its_last_value(tmp_path):
    writer = monitor.MetricsWriter(str(tmp_path))
    writer.write(4, loss=1.5, changed_fraction=0.9)
    writer.write(8, loss=1.25)
    writer.write(8, loss=1.0, knn_top1=0.5)  # E.g. recorded again after a resume.
    writer.close()
    series = monitor.read_metrics(str(tmp_path))
    np.testing.assert_array_equal(series["loss"][0], [4, 8])
    np.testing.assert_array_equal(series["loss"][1], [1.5, 1.0])
    assert series["knn_top1"][1].tolist() == [0.5]
    events = glob.glob(os.path.join(tmp_path, "tensorboard", "events.out.tfevents.*"))
    assert events and os.path.getsize(events[0]) > 0

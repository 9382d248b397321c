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


def test_monitor_subsets_are_fair_on_a_split_stored_class_by_class():
    from configs.nat import get_config
    from natjax.data import Dataset, Split

    labels = np.repeat(np.arange(10), 100).astype(np.int32)  # As image folders are read.
    split = Split(np.arange(1000, dtype=np.int32)[:, None, None, None], labels)  # Pixel = id.
    config = get_config("smoke")
    config.eval.update(monitor_train_examples=200, monitor_test_examples=50)
    bank, queries = monitor.monitor_subsets(config, Dataset("sorted", split, split, 10))
    assert len(bank) == 200 and len(queries) == 50
    assert set(bank.labels) == set(range(10)) and len(set(queries.labels)) >= 8
    ids = bank.images[:, 0, 0, 0]
    assert np.all(np.diff(ids) > 0)  # Distinct, in id order, each with its own label.
    np.testing.assert_array_equal(bank.labels, labels[ids])
    again, _ = monitor.monitor_subsets(config, Dataset("sorted", split, split, 10))
    np.testing.assert_array_equal(again.images, bank.images)  # Drawn by the run's seed.
    assert split.sample(0, 0) is split and split.sample(5000, 0) is split

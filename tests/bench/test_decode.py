"""`python -m natjax.bench decode` (`natjax.bench.decode`): JPEG folders decoded on threads and
in grain's worker processes."""

import numpy as np

from natjax.bench import decode
from natjax.data.folder import load_folder_dataset
from natjax.data.grain_batches import StepIds, train_batches


def test_decode_bench_times_threads_and_grain_processes_at_each_worker_count():
    rows = decode.run(workers=(1, 2), n=16, side=32, batch=8, batches=1)
    assert [(r["workers"], r["pipeline"]) for r in rows] == [
        (1, "threads"),
        (1, "grain processes"),
        (2, "threads"),
        (2, "grain processes"),
    ]
    assert all(r["images_per_second"] > 0 and r["mean_file_bytes"] > 100 for r in rows)
    assert all(r["startup_seconds"] > 0 for r in rows)
    # The same ids at a worker count (the untimed batches, so the ids, depend on it).
    assert rows[0]["last_batch_sha1"] == rows[1]["last_batch_sha1"]
    assert rows[2]["last_batch_sha1"] == rows[3]["last_batch_sha1"]
    table = decode.format_table(rows)
    assert f"| 32 | {rows[0]['mean_file_bytes'] / 1e3:.0f} KB |" in table
    assert "threads | 1 | " in table and table.count("| 1.00x | 1.00x | yes") == 1
    assert "grain processes | 2 |" in table and table.count("| 1.00x | yes") == 2


def test_grain_processes_decode_the_threads_pixels_bit_for_bit(tmp_path):
    decode.write_folder(str(tmp_path), n=16, side=32)
    dataset, _ = load_folder_dataset(str(tmp_path), "train", "test", 32, 2, in_memory_bytes=0)
    split, step_ids = dataset.train, StepIds(16, 8, seed=0)
    ready = train_batches(dataset.train, 8, 0, range(5), workers=2)
    for step, batch in enumerate(ready):
        np.testing.assert_array_equal(batch["images"], split.images[step_ids(step)])

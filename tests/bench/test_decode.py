"""`python -m natjax.bench decode` (`natjax.bench.decode`): JPEG folders decoded on threads."""

from natjax.bench import decode


def test_decode_bench_writes_jpegs_and_times_each_thread_count():
    rows = decode.run(workers=(1, 2), n=16, side=32, batch=8, batches=1)
    assert [r["workers"] for r in rows] == [1, 2]
    assert all(r["images_per_second"] > 0 and r["mean_file_bytes"] > 100 for r in rows)
    table = decode.format_table(rows)
    assert f"| 32 | {rows[0]['mean_file_bytes'] / 1e3:.0f} KB |" in table and "1.00x" in table

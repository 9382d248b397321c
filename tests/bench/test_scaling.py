"""`python -m natjax.bench scaling` (`natjax.bench.scaling`): NAT's step without, with the
global and with the local re-assignment."""

from natjax.bench import scaling


def test_scaling_bench_times_the_global_and_local_assignment():
    row = scaling.bench_case(1, 16, repeats=1)
    assert row["images_per_second"].keys() == {"none", "global", "local"}
    assert all(0 < s < 10 for s in row["assignment_share"].values())
    assert "small_convnet | 1 | 16" in scaling.format_table([row])

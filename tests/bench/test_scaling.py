"""`python -m natjax.bench scaling` (`natjax.bench.scaling`): NAT's step without, with the
global and with the local re-assignment."""

import pytest

from natjax.bench import scaling


@pytest.mark.slow
def test_scaling_bench_times_the_global_and_local_assignment():
    row = scaling.bench_case(1, 16, repeats=1)
    assert row["images_per_second"].keys() == {"none", "global", "local"}
    assert all(0 < s < 10 for s in row["assignment_share"].values())
    assert "small_convnet | 1 | 16" in scaling.format_table([row])


def test_the_cases_and_the_table():
    assert scaling._case()[:3] == ("small_convnet", 28, 1)  # On a CPU.
    assert scaling._device_counts()[0] == 1
    row = {
        "encoder": "resnet18",
        "devices": 8,
        "batch": 1024,
        "images_per_second": {"none": 8000.0, "global": 7000.0, "local": 7600.0},
        "assignment_share": {"global": 0.125, "local": 0.05},
    }
    assert scaling.format_table([row]).splitlines()[-1] == (
        "resnet18 | 8 | 1024 | 8000 | 7000 | 7600 | 12.5% | 5.0%"
    )

"""`python -m natjax.bench assignment` (`natjax.bench.assignment`): every solver timed against
scipy's optimum, and the rounds of each setting of the sweep."""

import pytest

from natjax.assignment.kernels import triton
from natjax.bench import assignment
from natjax.bench import scores as families


@pytest.mark.slow
def test_assignment_bench_reports_every_solver_and_an_exact_auction():
    scores = families.random_scores(16, seed=0)
    row = assignment.bench_case("random", scores, ("auction", "cold", "triton_k8"), repeats=1)
    assert {"auction", "cold", "triton_k8", "hungarian", "scipy_roundtrip"} <= row["seconds"].keys()
    assert all(row["converged"].values()) and all(abs(g) < 1e-5 for g in row["gap"].values())
    assert all(t > 0 for t in row["seconds"].values()) and row["rounds"]["auction"] > 0
    assert row["us_per_round"]["auction"] > 0
    assert "random | 16 |" in assignment.format_table([row])


@pytest.mark.slow
def test_assignment_sweep_counts_rounds_for_each_setting():
    rows = assignment.sweep_case("random", families.random_scores(32, seed=0))
    assert [r["bidders"] for r in rows] == [triton.default_bidders(32), 1]
    assert set(rows[0]["sweep_rounds"]) == set(assignment.SWEEP.values())
    assert all(v > 0 for r in rows for v in r["sweep_rounds"].values())
    assert "total |  | 1 |" in assignment.format_table(rows)


def test_a_variant_beyond_its_kernels_size_is_named_and_skipped(capsys):
    asked = ("auction", "mosaic_gpu_k64", "pallas_tpu_k8", "triton_k8")
    assert assignment._variants_for(512, asked) == asked
    assert assignment._variants_for(1024, asked) == ("auction", "pallas_tpu_k8", "triton_k8")
    assert (
        "# b=1024: mosaic_gpu_k64 skipped (beyond their kernel's size)" in capsys.readouterr().out
    )
    assert assignment._variants_for(4096, asked) == ("auction", "triton_k8")

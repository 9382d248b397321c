"""`python -m natjax.bench rounds` (`natjax.bench.rounds`): each one-launch kernel against the
XLA block kernel with its bidders, in interpret mode."""

import numpy as np

from natjax.bench import rounds
from natjax.bench import scores as families


def test_rounds_compares_each_kernel_with_the_block_kernel_of_its_bidders():
    scores = families.random_scores(40, seed=0)
    rows = [rounds.compare(name, scores) for name in ("triton", "pallas_tpu")]
    for row in rows:
        assert row["rounds"] == row["xla_rounds"] > 0 and row["same_assignment"]
        assert row["complete"] and row["bidders"] == rounds.BIDDERS[row["kernel"]](40)
    table = rounds.format_table([{"scores": "random", **r} for r in rows])
    assert "random | 40 | pallas_tpu | 8 |" in table and "| NO |" not in table


def test_a_different_assignment_reads_no():
    row = {"scores": "s", "kernel": "k", "b": 2, "bidders": 1, "rounds": 3, "xla_rounds": 4}
    row.update(same_assignment=False, complete=True, interpreted_seconds=np.float64(0.5))
    assert "\ns | 2 | k | 1 | 3 | 4 | NO | 0.5" in rounds.format_table([row])

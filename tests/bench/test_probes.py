"""`python -m natjax.bench probes`: each protocol with its features in memory and streamed, on
the preset's encoder at random initialisation; one algorithm, so one figure."""

import pytest

from natjax.bench import probes
from tests.helpers import make_idx_dataset


@pytest.mark.slow
def test_every_protocol_gives_one_figure_in_memory_and_streamed(tmp_path):
    source = "idx:" + make_idx_dataset(str(tmp_path / "idx"), n_train=96, n_test=40, size=28)
    rows = probes.run("smoke", source, ("linear", "mlp", "knn"))
    assert [r["protocol"] for r in rows] == ["linear", "mlp", "knn"]
    for r in rows:
        assert r["train_examples"] == 96 and 0 < r["in_memory_top1"] <= 1
        assert r["streamed_top1"] == r["in_memory_top1"] and r["difference_points"] == 0
    table = probes.format_table(rows).splitlines()
    assert len(table) == 2 + len(rows) and "+0.00 pt" in table[2]

"""The paper's Figure 2 (`natjax.training.figure2`): NAT at several re-assignment periods and
training lengths, a point the curves share trained once, mean ± std over seeds, a picture."""

import json
import os

import pytest
from PIL import Image

from natjax.errors import UserError
from natjax.evaluation import figures
from natjax.training import figure2
from tests.helpers import tiny_config


def test_the_curves_share_the_point_at_the_base_length_and_the_papers_period(tmp_path):
    base = tiny_config(str(tmp_path))
    base.num_epochs = 10
    chosen = figure2.points(base)
    names = [p.variant.name for p in chosen]
    assert names[:4] == [
        "period0_epochs10",
        "period1_epochs10",
        "period3_epochs10",
        "period10_epochs10",
    ]
    assert names[4:] == [
        "period3_epochs5",
        "period3_epochs10",
        "period3_epochs20",
        "period3_epochs40",
    ]
    assert len(set(names)) == 7  # period3_epochs10 is on both curves.
    config = base.copy_and_resolve_references()
    chosen[0].variant.change(config)
    assert config.nat.reassign_every == 0 and config.num_epochs == 10


def test_another_objective_or_a_bad_point_is_one_sentence(tmp_path):
    base = tiny_config(str(tmp_path))
    base.objective = "simclr"
    with pytest.raises(UserError, match="Figure 2 varies NAT's re-assignment"):
        figure2.points(base)
    base.objective = "nat"
    with pytest.raises(UserError, match="the periods must be 0"):
        figure2.points(base, periods=(-1,))
    with pytest.raises(UserError, match="the periods must be 0"):
        figure2.points(base, epochs=(0,))


def test_the_picture_has_both_curves(tmp_path):
    rows = [
        {
            "curve": c,
            "x": x,
            "variant": "v",
            "n": 2,
            "linear_probe_top1": 0.5 + x / 100,
            "linear_probe_top1_std": 0.01,
            "knn_top1": 0.4,
            "knn_top1_std": None,
        }
        for c, xs in (("period", (0, 1, 3)), ("epochs", (5, 10)))
        for x in xs
    ]
    path = figures.figure2(str(tmp_path / "f" / "figure2.png"), rows)
    with Image.open(path) as image:
        assert image.size == (900, 350)
    table = figure2.format_table(rows)
    assert "| period | never | 50.00 ± 1.00 | 40.00 | 2 |" in table


@pytest.mark.slow
def test_every_point_trains_once_per_seed_and_resumes_from_its_records(tmp_path):
    base = tiny_config(str(tmp_path))
    base.num_epochs = 2
    base.eval.baselines = False
    workdir, store = str(tmp_path / "fig"), str(tmp_path / "results")
    rows = figure2.figure2(base, workdir, [0, 1], record_dir=store, periods=(0, 3), epochs=(1, 2))
    assert [(r["curve"], r["x"], r["n"]) for r in rows] == [
        ("period", 0, 2),
        ("period", 3, 2),
        ("epochs", 1, 2),
        ("epochs", 2, 2),
    ]
    assert rows[1]["variant"] == rows[3]["variant"] == "period3_epochs2"
    assert sorted(os.listdir(workdir)) == [
        "figure2.json",
        "figure2.png",
        "period0_epochs2",
        "period3_epochs1",
        "period3_epochs2",
    ]
    assert sorted(os.listdir(os.path.join(store, "period3_epochs1"))) == [
        "seed0.json",
        "seed1.json",
    ]
    for r in rows:
        assert 0.0 <= r["linear_probe_top1"] <= 1.0 and r["linear_probe_top1_std"] is not None
    with open(os.path.join(workdir, "figure2.json")) as f:
        assert json.load(f) == rows
    # From the records alone (the runs deleted), on any machine: the same rows, nothing trained.
    again = figure2.figure2(
        base, str(tmp_path / "elsewhere"), [0, 1], record_dir=store, periods=(0, 3), epochs=(1, 2)
    )
    assert again == rows
    assert sorted(os.listdir(tmp_path / "elsewhere")) == ["figure2.json", "figure2.png"]

"""The ablations (`natjax.training.ablation`): each variant changes only its keys (and its
objective's recipe, except the keys it or the user set), the table has a row per variant and
baseline, and a finished variant is read back, not retrained."""

import json
import os

import numpy as np
import pytest

from natjax import evaluation, objectives, records
from natjax.errors import UserError
from natjax.training import ablation
from tests.helpers import tiny_config

FAST = ["nat", "discrete", "highpass", "epochs_half", "supervised"]


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def _changes(base, variant, user_keys=()) -> dict:
    config = ablation.variant_config(base, variant, user_keys).to_dict()
    flat = {k: v for k, v in _flatten(config).items() if k != "eval.protocols"}
    before = _flatten(base.to_dict())
    return {k: v for k, v in flat.items() if v != before[k]}


def test_each_variant_changes_only_its_keys_and_its_objectives_recipe(tmp_path):
    base = tiny_config(str(tmp_path))
    changed = {v.name: _changes(base, v) for v in ablation.variants()}
    assert changed["nat"] == {}
    assert changed["reassign_never"] == {"nat.reassign_every": 0}
    assert changed["discrete"] == {"nat.targets": "discrete"}
    assert changed["highpass"] == {"input.filter": "highpass"}
    assert changed["epochs_half"] == {"num_epochs": 2} and base.num_epochs == 3
    assert changed["epochs_double"] == {"num_epochs": 6}
    assert changed["bfloat16"] == {"model.dtype": "bfloat16"}
    supervised = {"objective": "supervised", "optim.learning_rate": 0.01}  # Its recipe's.
    assert changed["supervised_raw"] == {**supervised, "input.filter": "raw"}
    assert changed["rotation"] == {"objective": "rotation", "optim.learning_rate": 0.01}
    assert changed["simclr"] == {"objective": "simclr"}  # No recipe.
    assert ablation.variant_config(base, ablation.variants()[0]).eval.protocols == (
        ablation.PROTOCOLS
    )
    assert base.objective == "nat" and base.optim.learning_rate == 0.05  # Left alone.


def test_the_keys_a_variant_or_the_user_set_keep_their_values(tmp_path):
    base = tiny_config(str(tmp_path))
    supervised = next(v for v in ablation.variants() if v.name == "supervised")
    assert _changes(base, supervised, ["optim.learning_rate"]) == {"objective": "supervised"}
    assert _changes(base, supervised, ["optim"]) == {"objective": "supervised"}
    own = ablation._variant("fast", "fast", objective="supervised", optim__learning_rate=0.2)
    assert own.keys == ("objective", "optim.learning_rate")
    assert _changes(base, own) == {"objective": "supervised", "optim.learning_rate": 0.2}


def test_every_other_registered_objective_has_a_variant_in_the_registrys_order():
    names = [v.name for v in ablation.variants()]
    assert names[: len(ablation._ABLATIONS)] == [v.name for v in ablation._ABLATIONS]
    successors = [n for n in objectives.names() if n not in ("nat", "supervised")]
    assert names[len(ablation._ABLATIONS) :] == successors
    labels = {v.name: v.label for v in ablation.variants()}
    assert labels["swav"] == objectives.REGISTRY["swav"].label


def test_unknown_variant_is_one_sentence():
    with pytest.raises(UserError, match="unknown --variants nope; use any of"):
        ablation.select(["nat", "nope"])
    assert [v.name for v in ablation.select(["supervised", "nat"])] == ["nat", "supervised"]
    assert len(ablation.select(None)) == len(ablation.variants())


def test_rows_follow_the_variants_then_the_baselines_and_the_table_is_in_percent():
    summaries = {
        "supervised": [{"linear_probe_top1": 0.9, "knn_top1": 0.8, "final_loss": 0.1}],
        "nat": [{"linear_probe_top1": 0.5, "mlp_probe_top1": 0.6, "knn_top1": 0.4}],
    }
    baselines = [{"baseline_raw_pixels_linear_top1": 0.3, "baseline_raw_pixels_knn_top1": 0.2}]
    table = ablation.rows(summaries, baselines)
    assert [r["variant"] for r in table] == [
        "NAT (the base config)",
        "supervised (labels)",
        "raw pixels",
    ]
    assert table[1]["mlp_probe_top1"] is None and table[2]["knn_top1"] == 0.2
    lines = ablation.format_table(table).splitlines()
    assert len(lines) == 2 + 3
    assert lines[2].startswith("| NAT (the base config) | 50.00 | 60.00 | 40.00 | — |")
    assert lines[4] == "| raw pixels | 30.00 | — | 20.00 | — | — | — |"


def test_several_seeds_give_mean_sample_std_and_n():
    summaries = {"nat": [{"knn_top1": 0.40}, {"knn_top1": 0.44}, {"knn_top1": 0.42}]}
    (row,) = ablation.rows(summaries, [{}, {}, {}])
    assert row["n"] == 3 and row["knn_top1"] == pytest.approx(0.42)
    assert row["knn_top1_std"] == pytest.approx(0.02)
    assert row["linear_probe_top1"] is None and row["linear_probe_top1_std"] is None
    lines = ablation.format_table([row]).splitlines()
    assert lines[0].endswith("| img/s | n |")
    assert lines[2] == "| NAT (the base config) | — | — | 42.00 ± 2.00 | — | — | — | 3 |"


def test_seeds_run_apart_and_each_measurement_is_recorded(tmp_path, monkeypatch):
    trained = []

    def train(config, directory):
        trained.append((config.seed, os.path.relpath(directory, tmp_path)))
        return {"knn_top1": (40 + config.seed) / 100}

    monkeypatch.setattr(ablation, "train_and_evaluate", train)
    monkeypatch.setattr(
        evaluation, "evaluate_baselines", lambda c, p: {"baseline_raw_pixels_knn_top1": c.seed}
    )
    base = tiny_config(str(tmp_path))
    table = ablation.ablate(
        base, str(tmp_path / "w"), ["nat"], seeds=[1, 3], record_dir=str(tmp_path / "r")
    )
    assert trained == [(1, "w/nat/seed1"), (3, "w/nat/seed3")]
    assert table[0]["n"] == 2 and table[0]["knn_top1"] == pytest.approx(0.42)
    assert table[1]["knn_top1"] == 2.0  # Raw pixels: seeds 1 and 3.
    (nat3,) = records.load_records(str(tmp_path / "r"), "nat/seed3.json")
    assert nat3.kind == "ablate" and nat3.seed == 3 and nat3.results == {"knn_top1": 0.43}
    assert nat3.provenance["config_hash"] == records.config_hash(
        ablation.variant_config(ablation.seeded(base, 3), ablation.select(["nat"])[0])
    )
    assert [r.path for r in records.load_records(str(tmp_path / "r"))] == [
        "baselines/seed1.json",
        "baselines/seed3.json",
        "nat/seed1.json",
        "nat/seed3.json",
    ]


def test_recorded_variants_are_read_back_from_the_store(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a recorded variant was measured again")

    monkeypatch.setattr(ablation, "train_and_evaluate", refuse)
    monkeypatch.setattr(evaluation, "evaluate_baselines", refuse)
    for name, results in (("nat", {"knn_top1": 0.5}), ("baselines", {})):
        record = records.make_record("ablate", name, results, {"seed": 2})
        records.write_record(str(tmp_path / "r" / name / "seed2.json"), record)
    base = tiny_config(str(tmp_path))
    table = ablation.ablate(
        base, str(tmp_path / "w"), ["nat"], seeds=[2], record_dir=str(tmp_path / "r")
    )
    assert table[0]["knn_top1"] == 0.5 and table[0]["n"] == 1


def test_a_record_changed_by_hand_is_not_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(ablation, "train_and_evaluate", lambda c, d: pytest.fail("it trained"))
    path = tmp_path / "r" / "nat" / "seed0.json"
    records.write_record(str(path), records.make_record("ablate", "nat", {"knn_top1": 0.5}, {}))
    path.write_text(path.read_text().replace("0.5", "0.9"))
    base = tiny_config(str(tmp_path))
    with pytest.raises(UserError, match="was changed after it was written"):
        ablation.ablate(
            base, str(tmp_path / "w"), ["nat"], seeds=[0], record_dir=str(tmp_path / "r")
        )


def test_finished_variants_and_baselines_are_read_back(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a finished variant was trained again")

    monkeypatch.setattr(ablation, "train_and_evaluate", refuse)
    monkeypatch.setattr(evaluation, "evaluate_baselines", refuse)
    (tmp_path / "nat").mkdir()
    (tmp_path / "nat" / "summary.json").write_text(json.dumps({"knn_top1": 0.5}))
    (tmp_path / "baselines.json").write_text(json.dumps({"baseline_raw_pixels_knn_top1": 0.1}))
    base = tiny_config(str(tmp_path))
    table = ablation.ablate(base, str(tmp_path), ["nat"])
    assert [r["knn_top1"] for r in table] == [0.5, 0.1]
    with open(os.path.join(tmp_path, "ablation.json")) as f:
        assert json.load(f) == table


@pytest.fixture(scope="module")
def ablated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ablation")
    config = tiny_config(str(tmp))
    config.eval.mlp.epochs = 3
    workdir = str(tmp / "ablation")
    return config, workdir, ablation.ablate(config, workdir, FAST)


@pytest.mark.slow
def test_table_has_a_row_per_variant_then_the_baselines(ablated):
    _, workdir, table = ablated
    labels = {v.name: v.label for v in ablation.variants()}
    expected = [labels[v.name] for v in ablation.variants() if v.name in FAST]
    assert [r["variant"] for r in table] == [*expected, "random-init encoder", "raw pixels"]
    for row in table[: len(FAST)]:
        assert all(row[k] is not None for k in ablation.COLUMNS), row
    with open(os.path.join(workdir, "ablation.json")) as f:
        assert json.load(f) == table
    with open(os.path.join(workdir, "ablation.md")) as f:
        assert f.read().count("\n") == 2 + len(table)
    with open(os.path.join(workdir, "nat", "summary.json")) as f:
        nat = json.load(f)
    assert table[0]["linear_probe_top1"] == nat["linear_probe_top1"]
    with open(os.path.join(workdir, "baselines.json")) as f:
        baselines = json.load(f)
    assert table[-1]["knn_top1"] == baselines["baseline_raw_pixels_knn_top1"]
    for row in table[-2:]:  # Both baselines under every protocol.
        assert all(row[k] is not None for k in ablation.COLUMNS[:3]), row


@pytest.mark.slow
def test_variants_ran_with_their_settings(ablated):
    _, workdir, _ = ablated

    def run_file(name, file):
        with open(os.path.join(workdir, name, file)) as f:
            return json.load(f)

    assert run_file("epochs_half", "summary.json")["steps"] == 2 * (96 // 16)
    assert run_file("nat", "summary.json")["steps"] == 3 * (96 // 16)
    supervised = run_file("supervised", "config.json")
    assert supervised["objective"] == "supervised"
    assert supervised["model"]["target_dim"] == 10  # IDX data has 10 classes (the config: 8).
    assert supervised["optim"]["learning_rate"] == 0.01  # Its recipe.
    assert run_file("nat", "config.json")["optim"]["learning_rate"] == 0.05
    assert run_file("highpass", "config.json")["input"]["filter"] == "highpass"


@pytest.mark.slow
def test_supervised_learns_the_toy_labels_and_evaluates_from_its_checkpoint(ablated):
    _, workdir, table = ablated
    directory = os.path.join(workdir, "supervised")
    with open(os.path.join(directory, "summary.json")) as f:
        summary = json.load(f)
    # An untrained 10-way head starts near log(10) = 2.30; 18 steps on the toy squares learn.
    assert summary["final_loss"] < 0.6 * np.log(10)
    _, again = evaluation.evaluate_checkpoint(directory, protocols=("linear",))
    assert again["linear_probe_top1"] == summary["linear_probe_top1"]


@pytest.mark.slow
def test_a_second_call_reads_finished_variants_back(ablated, monkeypatch):
    config, workdir, table = ablated

    def refuse(*args, **kwargs):
        raise AssertionError("a finished variant was trained again")

    monkeypatch.setattr(ablation, "train_and_evaluate", refuse)
    assert ablation.ablate(config, workdir, FAST) == table

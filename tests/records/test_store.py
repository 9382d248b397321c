"""Records (`natjax.records.store`): written whole, read back as written, and a file that is
not a record, or a destination that cannot be written, is one sentence."""

import json

import pytest

from natjax import records
from natjax.errors import UserError


def test_a_record_reads_back_with_only_its_scalar_figures(tmp_path):
    summary = {"knn_top1": 0.5, "steps": 7, "figures": {"tsne": "a.png"}, "ok": True}
    prov = {"seed": 4, "command": "python -m natjax.main"}
    path = records.write_record(
        str(tmp_path / "a" / "b.json"), records.make_record("train", "nat", summary, prov)
    )
    (record,) = records.load_records(str(tmp_path))
    assert record.path == "a/b.json" and path.endswith("b.json")
    assert record.results == {"knn_top1": 0.5, "steps": 7, "ok": True}
    assert record.seed == 4 and record.kind == "train" and record.name == "nat"
    assert not list(tmp_path.glob("a/*.tmp"))


def test_a_figure_changed_after_writing_is_caught(tmp_path):
    path = tmp_path / "r.json"
    records.write_record(str(path), records.make_record("train", "nat", {"knn_top1": 0.5}, {}))
    record = json.loads(path.read_text())
    assert record["sha256"] == records.store.digest(record)
    path.write_text(path.read_text().replace("0.5", "0.6"))
    with pytest.raises(UserError, match="was changed after it was written"):
        records.load_records(str(tmp_path))


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown record kind"):
        records.make_record("guess", "nat", {}, {})


@pytest.mark.parametrize(
    "text, says",
    [("{not json", "is not a readable JSON record"), (json.dumps({"kind": "x"}), "it lacks")],
)
def test_a_file_that_is_not_a_record_is_one_sentence(tmp_path, text, says):
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(UserError, match=says):
        records.load_records(str(tmp_path))


def test_a_destination_is_checked_before_any_work(tmp_path):
    records.check_destination(str(tmp_path / "new" / "r.json"))
    assert (tmp_path / "new").is_dir()
    with pytest.raises(UserError, match="must name a .json file"):
        records.check_destination(str(tmp_path / "r.txt"))
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="cannot create"):
        records.check_destination(str(tmp_path / "file" / "r.json"))


def test_save_adds_the_provenance(tmp_path):
    path = str(tmp_path / "r.json")
    records.save(path, "evaluate", "nat", {"knn_top1": 0.25}, seed=2, wall_seconds=1.234)
    (record,) = records.load_records(str(tmp_path))
    assert record.provenance["seed"] == 2 and record.provenance["wall_seconds"] == 1.2
    assert record.provenance["config_hash"] is None

"""`python -m natjax.report`: tables regenerated between their markers from the records, and
`--check` failing on a figure changed by hand in a table or in a record."""

import json
import pathlib
import shutil

import pytest

from natjax import records
from natjax.report import __main__ as report
from natjax.report import catalogue, documents, tables
from tests.helpers import ROOT

DOC = """# A page
Before.
<!-- natjax.report fashion_mnist -->
stale
<!-- /natjax.report -->
After.
"""


def _record(root: pathlib.Path, seed: int, linear: float) -> None:
    results = {
        "linear_probe_top1": linear,
        "knn_top1": linear - 0.05,
        "baseline_random_init_linear_top1": 0.89 + seed / 1000,
        "baseline_random_init_knn_top1": 0.84,
        "baseline_raw_pixels_linear_top1": 0.84,
        "baseline_raw_pixels_knn_top1": 0.79,
    }
    prov = records.provenance.collect(seed=seed, wall_seconds=600.0 + seed)
    path = root / "results" / "fashion_mnist" / "nat" / f"seed{seed}.json"
    records.write_record(str(path), records.make_record("train", "nat", results, prov))


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(DOC)
    for seed, linear in enumerate((0.913, 0.915, 0.911)):
        _record(tmp_path, seed, linear)
    return tmp_path


def test_the_table_is_written_between_its_markers_with_mean_std_n(repo):
    assert report.main(["--root", str(repo)]) == 0
    text = (repo / "README.md").read_text()
    assert text.startswith("# A page\nBefore.\n<!-- natjax.report fashion_mnist -->\n")
    assert text.endswith("<!-- /natjax.report -->\nAfter.\n")
    nat = next(line for line in text.splitlines() if line.startswith("| NAT"))
    assert nat.startswith("| NAT, small convnet, 10 epochs | 91.30 ± 0.20 | 86.30 ± 0.20 | 3 |")
    assert "Records: `results/fashion_mnist/nat/`." in text
    assert report.main(["--root", str(repo), "--check"]) == 0


def test_check_fails_on_a_figure_changed_in_the_table_or_in_a_record(repo, capsys):
    report.main(["--root", str(repo)])
    readme = repo / "README.md"
    generated = readme.read_text()
    readme.write_text(generated.replace("91.30 ± 0.20", "91.80 ± 0.20"))
    assert report.main(["--root", str(repo), "--check"]) == 1
    assert "README.md: fashion_mnist" in capsys.readouterr().err
    readme.write_text(generated)
    path = repo / "results" / "fashion_mnist" / "nat" / "seed1.json"
    record = json.loads(path.read_text())
    record["results"]["knn_top1"] += 0.001
    path.write_text(json.dumps(record))
    assert report.main(["--root", str(repo), "--check"]) == 2
    err = capsys.readouterr().err
    assert "seed1.json was changed after it was written" in err
    assert report.main(["--root", str(repo)]) == 2  # Regenerating does not launder it.
    assert readme.read_text() == generated
    record["sha256"] = records.store.digest(record)  # As a new measurement would write it.
    path.write_text(json.dumps(record))
    assert report.main(["--root", str(repo), "--check"]) == 1


def test_an_unknown_table_or_an_unclosed_block_is_one_sentence(repo, capsys):
    (repo / "docs" / "x.md").write_text("<!-- natjax.report nope -->\n<!-- /natjax.report -->\n")
    assert report.main(["--root", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("natjax.report: error: docs/x.md asks for the table 'nope'")
    (repo / "docs" / "x.md").write_text("<!-- natjax.report fashion_mnist -->\n")
    assert report.main(["--root", str(repo)]) == 2
    assert "opens a natjax.report block it does not close" in capsys.readouterr().err


def test_one_seed_shows_no_spread_and_no_test():
    store = [
        records.Record(
            "fashion_mnist/nat/seed0.json",
            "train",
            "nat",
            {"linear_probe_top1": 0.9, "baseline_random_init_linear_top1": 0.89},
            records.provenance.collect(seed=0),
        )
    ]
    text = tables.render(catalogue.FASHION_MNIST, store)
    nat = next(line for line in text.splitlines() if line.startswith("| NAT"))
    assert nat == "| NAT, small convnet, 10 epochs | 90.00 | — | 1 | — | — |"


def test_the_repositorys_tables_are_what_its_records_give(tmp_path):
    """The check CI runs: a figure edited by hand in the README or docs fails here."""
    for name in ("README.md", "docs", "results"):
        source = pathlib.Path(ROOT) / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        elif source.exists():
            shutil.copy(source, tmp_path / name)
    assert report.main(["--root", str(tmp_path), "--check"]) == 0


def test_every_marker_in_the_repository_names_a_table_of_the_catalogue():
    names = [
        name
        for path in documents.documents(pathlib.Path(ROOT))
        for name in documents.table_names(path.read_text())
    ]
    assert set(names) <= set(catalogue.TABLES)


def test_the_footnote_names_the_machine_once_and_counts_the_busy_records():
    used = []
    for seed, load in ((0, 0.3), (1, 4.2), (2, 3.1)):
        prov = records.provenance.collect(seed=seed)
        prov["machine"].update(platform="cpu", cpu="AMD EPYC", cores=2, load_average=load)
        path = f"fashion_mnist/nat/seed{seed}.json"
        used.append(records.Record(path, "train", "nat", {"linear_probe_top1": 0.9}, prov))
    note = tables.footnote(used)
    assert (
        "Machine: AMD EPYC, 2 cores (2 of 3 records beside other work: load average up to "
        "4.2 at the end);" in note
    )

"""The Colab notebook in launch/ runs top to bottom (outside Colab its install cell is skipped)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import ROOT

NOTEBOOK = os.path.join(ROOT, "launch", "colab.ipynb")


@pytest.mark.slow
@pytest.mark.needs_fashion_mnist
def test_colab_notebook_runs_top_to_bottom(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "of the neighbours share their query's label" in text
    assert (tmp_path / "nearest_neighbours.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "exports" / "colab").is_dir()


def test_the_notebook_is_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")


@pytest.fixture(autouse=True)
def _matplotlib_without_a_screen(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")

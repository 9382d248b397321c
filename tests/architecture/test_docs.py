"""docs/architecture.md names every module of natjax, so the page cannot fall behind the code."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", page))
    missing = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "natjax").rglob("*.py"))
        if path.stem not in ("__init__", "__main__") and path.stem not in words
    ]
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"


def test_the_test_files_the_docs_cite_exist():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    cited = {p for page in pages for p in re.findall(r"tests/[\w/]+\.py", page.read_text())}
    assert cited and not [p for p in sorted(cited) if not (ROOT / p).is_file()]

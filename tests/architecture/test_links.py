"""Every relative link and anchor in the README, the changelog and docs/ resolves: a file that
exists, and a heading of it that GitHub would make that anchor of."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to -."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: pathlib.Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    found, seen = set(), {}
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: pathlib.Path) -> list[str]:
    return [t for t in _LINK.findall(_FENCE.sub("", page.read_text())) if "://" not in t]


def broken(page: pathlib.Path) -> list[str]:
    bad = []
    for target in links(page):
        if target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            bad.append(f"{target} (no such heading)")
    return bad


def test_the_slugs_are_githubs():
    assert slug("Many devices, many hosts") == "many-devices-many-hosts"
    assert slug("NAT's successors") == "nats-successors"
    assert slug("`natjax.main` and *more*") == "natjaxmain-and-more"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    assert not broken(page)


def test_the_checker_sees_a_broken_file_and_a_broken_anchor(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("# Top\n[ok](#top) [no](#bottom) [gone](b.md) [web](https://x.y/z)\n")
    assert broken(page) == ["#bottom (no such heading)", "b.md (no such file)"]


def test_the_readme_fits_on_a_landing_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250

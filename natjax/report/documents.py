"""The Markdown files that hold generated tables, each between its markers:

<!-- natjax.report NAME -->
...generated; edits here are overwritten, and `--check` fails on them...
<!-- /natjax.report -->
"""

import pathlib
import re
from collections.abc import Callable

from natjax.errors import UserError

_BLOCK = re.compile(
    r"(<!-- natjax\.report (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /natjax\.report -->)",
    re.DOTALL,
)
_OPEN = re.compile(r"<!-- natjax\.report ([\w-]+) -->")


def documents(root: pathlib.Path) -> list[pathlib.Path]:
    """The README and every page under docs/."""
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.exists()]


def table_names(text: str) -> list[str]:
    return _OPEN.findall(text)


def regenerate(text: str, render: Callable[[str], str], where: str = "") -> str:
    """`text` with every block's body replaced by `render(NAME)`."""
    if len(_OPEN.findall(text)) != len(_BLOCK.findall(text)):
        raise UserError(f"{where} opens a natjax.report block it does not close.")
    return _BLOCK.sub(lambda m: f"{m[1]}{render(m['name'])}\n{m[4]}", text)


def differing(text: str, generated: str) -> list[str]:
    """The names of the blocks whose bodies differ between the two texts."""
    old = {m["name"]: m["body"] for m in _BLOCK.finditer(text)}
    new = {m["name"]: m["body"] for m in _BLOCK.finditer(generated)}
    return [name for name in old if old[name] != new.get(name)]

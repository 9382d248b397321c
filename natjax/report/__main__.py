"""`python -m natjax.report [--check] [--root DIR]`: regenerates every table between markers in
the README and docs/ from the records under `results/`; `--check` changes nothing and exits 1
naming each table that differs from what the records give."""

import argparse
import pathlib
import sys

from natjax import records
from natjax.errors import UserError
from natjax.report import documents
from natjax.report.catalogue import TABLES


def _renderer(store: list[records.Record], where: str):
    def render(name: str) -> str:
        if name not in TABLES:
            raise UserError(
                f"{where} asks for the table {name!r}, which natjax.report.catalogue does not "
                f"have; use one of {', '.join(sorted(TABLES))}."
            )
        return TABLES[name].render(store)

    return render


def report(root: pathlib.Path, check: bool) -> list[str]:
    """Regenerates (or with `check`, compares) every document's tables; returns the tables
    that differ, as `FILE: NAME`."""
    store = records.load_records(str(root / "results"))
    stale = []
    for path in documents.documents(root):
        where = path.relative_to(root).as_posix()
        text = path.read_text()
        generated = documents.regenerate(text, _renderer(store, where), where)
        stale += [f"{where}: {name}" for name in documents.differing(text, generated)]
        if not check and generated != text:
            path.write_text(generated)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m natjax.report", description=__doc__)
    parser.add_argument("--check", action="store_true", help="Compare only; exit 1 if stale.")
    parser.add_argument("--root", default=".", help="The repository (default: here).")
    args = parser.parse_args(argv)
    root = pathlib.Path(args.root)
    try:
        stale = report(root, args.check)
    except UserError as e:
        print(f"natjax.report: error: {e}", file=sys.stderr)
        return 2
    if args.check and stale:
        print(
            "natjax.report: these tables differ from what the records under results/ give: "
            f"{'; '.join(stale)}. Run `python -m natjax.report` to regenerate them (a figure "
            "is changed in its record, by the command that measures it, never in the table).",
            file=sys.stderr,
        )
        return 1
    verb = "are current" if args.check else "regenerated"
    print(f"natjax.report: the tables of {root.resolve().name} {verb}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

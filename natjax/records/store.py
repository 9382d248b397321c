"""Records on disk: one JSON file each, `{"kind", "name", "results", "provenance", "sha256"}`.

`results` maps a figure's name to its value (top-1 as a fraction, seconds, images/s, ...), as
the command that measured it names it (`summary.json`'s keys for a run). `sha256` is the digest
of the rest, so a figure changed by hand after the measurement is caught when the record is
read. Records are written whole or not at all, and read back with one sentence for a file that
is not a record or was changed.
"""

import dataclasses
import hashlib
import json
import os
import pathlib

import jax

from natjax.errors import UserError
from natjax.records import provenance

KINDS = ("train", "evaluate", "ablate", "bench")
_KEYS = ("kind", "name", "results", "provenance", "sha256")


@dataclasses.dataclass(frozen=True)
class Record:
    path: str  # Relative to the store's root, with `/` separators.
    kind: str
    name: str
    results: dict
    provenance: dict

    @property
    def seed(self):
        return self.provenance.get("seed")


def _scalar(value) -> bool:
    return isinstance(value, (bool, int, float, str)) or value is None


def make_record(kind: str, name: str, results: dict, provenance: dict) -> dict:
    """A record of `results`' scalar figures (a run's figure paths and other nested values
    dropped; a benchmark case is kept whole, as its table reads it)."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}; use one of {KINDS}")
    kept = dict(results) if kind == "bench" else {k: v for k, v in results.items() if _scalar(v)}
    record = {"kind": kind, "name": name, "results": kept, "provenance": provenance}
    return {**record, "sha256": digest(record)}


def digest(record: dict) -> str:
    """SHA-256 of the record's kind, name, results and provenance, as canonical JSON."""
    body = {k: record[k] for k in _KEYS[:-1]}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def write_record(path: str, record: dict) -> str:
    """Writes `record` to `path` atomically (process 0 only); returns the path."""
    if jax.process_index() != 0:
        return path
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(
            f"cannot write the record {path} ({e.strerror}); pass a writable --record path."
        ) from e
    return path


def check_destination(path: str) -> None:
    """Fails now, in one sentence, if a record could not be written to `path` later (a run
    should not train for an hour to lose its record)."""
    if not path.endswith(".json"):
        raise UserError(f"--record={path} must name a .json file.")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {directory} for --record ({e.strerror}).") from e
    if not os.access(directory, os.W_OK):
        raise UserError(f"cannot write to {directory} for --record; pass a writable path.")


def save(
    path: str, kind: str, name: str, results: dict, *, config=None, seed=None, wall_seconds=None
) -> str:
    """Writes the record of one command's figures, with their provenance, to `path`."""
    prov = provenance.collect(seed=seed, config=config, wall_seconds=wall_seconds)
    return write_record(path, make_record(kind, name, results, prov))


def _read(path: pathlib.Path, root: pathlib.Path) -> Record:
    where = path.relative_to(root).as_posix()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable JSON record ({e}); restore or delete it.") from e
    missing = [k for k in _KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise UserError(f"{path} is not a record: it lacks {', '.join(missing)}.")
    if digest(data) != data["sha256"]:
        raise UserError(
            f"{path} was changed after it was written (its sha256 does not match its contents); "
            "restore it (git checkout) or measure it again with the command in its provenance."
        )
    return Record(where, data["kind"], data["name"], data["results"], data["provenance"])


def read_record(path: str) -> Record:
    """The record at `path`, checked as `load_records` checks every record."""
    file = pathlib.Path(path)
    return _read(file, file.parent)


def load_records(root: str, pattern: str = "**/*.json") -> list[Record]:
    """The records under `root` whose path matches `pattern`, sorted by path."""
    base = pathlib.Path(root)
    return [_read(p, base) for p in sorted(base.glob(pattern)) if p.is_file()]

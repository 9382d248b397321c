"""The results store: one JSON record per measured run, table row or benchmark case, with the
provenance a reader needs to trust it (`provenance`) and the one way records are written and
read back (`store`). `python -m natjax.report` turns the records under `results/` into the
README's and docs' tables."""

from natjax.records import provenance
from natjax.records.provenance import config_hash
from natjax.records.store import (
    Record,
    check_destination,
    load_records,
    make_record,
    read_record,
    save,
    write_record,
)

__all__ = [
    "Record",
    "check_destination",
    "config_hash",
    "load_records",
    "make_record",
    "provenance",
    "read_record",
    "save",
    "write_record",
]

"""The ledger on disk, in one import: reading (fold), writing (writer), the header.

    state/ledger/header.jsonl                 lineage, format, fingerprint scheme, key id
    state/ledger/runs/<start>-<run>.jsonl      one run: apply, refresh, resolve, unlock
    state/ledger/runs/<start>-<run>.p<k>.jsonl its k-th part (p0002, p0003, ...)

See reconciler.ledger.fold (reading, chain order, conflicts), reconciler.ledger.writer
(durability, grouping, rotation) and reconciler.ledger.chain (record ids and MACs).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.desired import Fingerprinter
from reconciler.ledger.files import RUNS_DIR, FileStorage, iter_lines, run_files
from reconciler.ledger.fold import (
    ItemStatus,
    ItemTable,
    Ledger,
    item_key,
    parse_record,
    read_ledger,
)
from reconciler.ledger.header import (
    HEADER_FILE,
    Header,
    header_line,
    header_problem,
    new_salted,
    now,
    parse_header,
)
from reconciler.ledger.storage import Storage
from reconciler.ledger.writer import RunWriter, result_fields


def create_ledger(
    ledger_dir: Path,
    fingerprinter: Fingerprinter,
    lineage: str | None = None,
    storage: Storage | None = None,
) -> Header:
    """Write the header of a new ledger (files: atomically, temp file, fsync, rename;
    `storage`: another backend, e.g. PostgreSQL)."""
    storage = storage or FileStorage(ledger_dir)
    storage.create_header(header_line(fingerprinter, lineage, now()))
    line = storage.read_header()
    assert line is not None
    return parse_header(line, str(ledger_dir / HEADER_FILE))


__all__ = [
    "HEADER_FILE",
    "RUNS_DIR",
    "Header",
    "ItemStatus",
    "ItemTable",
    "Ledger",
    "RunWriter",
    "create_ledger",
    "header_problem",
    "item_key",
    "iter_lines",
    "new_salted",
    "now",
    "parse_record",
    "read_ledger",
    "result_fields",
    "run_files",
]

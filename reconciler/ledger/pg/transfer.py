"""Moving a ledger between the file format and PostgreSQL, byte for byte.

Both directions copy the header line and every part's lines unchanged (a part is a run
file), so record ids, MACs and the chain are the same on both sides: `ledger verify`
checks the copy with the same code. Import is one transaction: all or nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg

from reconciler.errors import ReconcilerError
from reconciler.ledger.files import FileStorage
from reconciler.ledger.pg.storage import CHUNK, PgStorage


def export_to(storage: PgStorage, folder: Path) -> int:
    """Write the PostgreSQL ledger as files in `folder`, which must not exist or be
    empty: written under a temporary name beside it and renamed into place, so a failure
    leaves nothing half-written. Returns the number of lines written."""
    line = storage.read_header()
    if line is None:
        raise ReconcilerError("there is no ledger in PostgreSQL to export")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ReconcilerError(f"{folder} exists and is not an empty folder; nothing was exported")
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        count = _export(storage, line, FileStorage(work))
        if folder.exists():
            folder.rmdir()
        os.rename(work, folder)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return count


def _export(storage: PgStorage, line: bytes, target: FileStorage) -> int:
    target.create_header(line)
    count = 1
    for name in storage.parts():
        if os.sep in name or name.startswith("."):
            raise ReconcilerError(f"a part name that is not a file name: {name!r}")
        part = target.create_part(name)
        try:
            batch = bytearray()
            for _, data in storage.lines(name, []):
                batch += data + b"\n"
                count += 1
                if len(batch) >= 1 << 20:
                    part.append(bytes(batch))
                    batch.clear()
            if batch:
                part.append(bytes(batch))
        finally:
            part.close()
    return count


def import_from(source: FileStorage, storage: PgStorage) -> int:
    """Copy the file ledger under `source` into PostgreSQL, which must hold no ledger;
    one transaction. Returns the number of lines copied. (The caller verifies the
    source first: a chain that does not verify is never imported.)"""
    line = source.read_header()
    if line is None:
        raise ReconcilerError(f"{source.dir}: no ledger here to import")
    if not storage.installed():
        storage.install()
    if storage.read_header() is not None or storage.parts():
        raise ReconcilerError(
            f"PostgreSQL already holds a ledger ({storage.where}); nothing was imported"
        )
    conn = storage.conn
    count = 1
    try:
        with conn.transaction():
            conn.execute(storage.q("INSERT INTO {s}.ledger_header (line) VALUES (%s)"), [line])
            for name in source.parts():
                conn.execute(storage.q("INSERT INTO {s}.ledger_parts (name) VALUES (%s)"), [name])
                lines: list[bytes] = []
                start = 1
                for number, data in source.lines(name, []):
                    if number != start + len(lines):
                        raise ReconcilerError(f"{name}:{number}: lines out of order")
                    lines.append(data)
                    if len(lines) >= CHUNK:
                        storage.append_rows(name, start, lines)
                        start += len(lines)
                        count += len(lines)
                        lines = []
                if lines:
                    storage.append_rows(name, start, lines)
                    count += len(lines)
    except psycopg.Error as exc:
        raise storage.error(exc) from None
    return count

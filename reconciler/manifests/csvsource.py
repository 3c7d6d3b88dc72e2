"""Bulk sources (`absent_csv`): streamed row by row, each row checked like a YAML entry."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.adapters.rules import CsvFormatError, RowToEntry, VendorRules

MAX_CELL = 1024


class CsvSourceError(Exception):
    """The file cannot be used at all (missing, unreadable, bad header)."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    entry: dict[str, Any] | None
    problems: list[tuple[str, str]]  # (column, message)


def read_rows(path: Path, rules: VendorRules) -> Iterator[CsvRow]:
    """Yield every data row of `path` as an entry, or the row's problems.

    The file is read as a stream: memory does not grow with its length.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise CsvSourceError("no such file") from exc
    except OSError as exc:
        raise CsvSourceError(f"cannot read: {exc.strerror}") from exc
    except ValueError as exc:  # a NUL in the path
        raise CsvSourceError(f"cannot read: {exc}") from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvSourceError(f"line 1: {exc}") from exc
        if not header:
            raise CsvSourceError("empty file: a header row is required")
        header = [h.strip() for h in header]
        try:
            to_entry: RowToEntry = rules.csv_reader(header)
        except CsvFormatError as exc:
            raise CsvSourceError(f"line 1: {exc}") from exc
        width = len(header)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CsvSourceError(f"line {reader.line_num}: {exc}") from exc
            line = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            problems = _cell_problems(header, cells, width)
            if problems:
                yield CsvRow(line, None, problems)
                continue
            yield CsvRow(line, to_entry(dict(zip(header, cells, strict=True))), [])


def _cell_problems(header: list[str], cells: list[str], width: int) -> list[tuple[str, str]]:
    if len(cells) != width:
        return [("row", f"has {len(cells)} columns, the header has {width}")]
    found: list[tuple[str, str]] = []
    for name, cell in zip(header, cells, strict=True):
        stripped = cell.strip()
        if not stripped:
            found.append((name, "must not be empty"))
        elif cell != stripped:
            found.append((name, "has leading or trailing spaces (values are compared exactly)"))
        elif len(cell) > MAX_CELL:
            found.append((name, f"is longer than {MAX_CELL} characters"))
    return found

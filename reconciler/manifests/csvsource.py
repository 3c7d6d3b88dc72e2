"""Bulk sources (`absent_csv`): streamed row by row, each row checked like a YAML entry."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.inputs import MAX_CSV_BYTES, InputRefused, open_regular
from reconciler.values import CONTROL, control_problem, lookalike_problem
from reconciler.vendors.api import CsvFormatError, RowToEntry, VendorRules

MAX_CELL = 1024


class CsvSourceError(Exception):
    """The file cannot be used at all (missing, unreadable, bad header)."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    entry: dict[str, Any] | None
    problems: list[tuple[str, str]]  # (column, message)


# Opens a CSV source's bytes (a file of the working tree, a blob of a git revision);
# raises InputRefused when it cannot be read.
CsvOpener = Callable[[], BinaryIO]

# Given the header, a taker of rows without cell problems, or None: a taker returns
# True when it has used the row (line, cells) itself, which is then not yielded.
FastRows = Callable[[list[str]], Callable[[int, list[str]], bool] | None]


def read_rows(
    path: Path | CsvOpener, rules: VendorRules, fast: FastRows | None = None
) -> Iterator[CsvRow]:
    """Yield every data row of `path` as an entry, or the row's problems.

    The file is read as a stream: memory does not grow with its length. With `fast`,
    rows its taker uses are not yielded (see FastRows); rows are taken and yielded in
    file order.
    """
    try:
        handle = _open_text(path)
    except InputRefused as exc:
        raise CsvSourceError(exc.reason) from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvSourceError(f"line 1: {exc}") from exc
        except InputRefused as exc:
            raise CsvSourceError(exc.reason) from exc
        if not header:
            raise CsvSourceError("empty file: a header row is required")
        header = [h.strip() for h in header]
        try:
            to_entry: RowToEntry = rules.csv_reader(header)
        except CsvFormatError as exc:
            raise CsvSourceError(f"line 1: {exc}") from exc
        width = len(header)
        take = fast(header) if fast is not None else None
        while True:
            line = reader.line_num + 1  # where the row starts (a quoted cell may span lines)
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise CsvSourceError(f"line {reader.line_num}: {exc}") from exc
            except InputRefused as exc:  # an encrypted source that fails to decrypt
                raise CsvSourceError(exc.reason) from exc
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            problems = _cell_problems(header, cells, width)
            if problems:
                yield CsvRow(line, None, problems)
                continue
            if take is not None and take(line, cells):
                continue
            yield CsvRow(line, to_entry(dict(zip(header, cells, strict=True))), [])


def csv_sample(path: Path | CsvOpener, rules: VendorRules) -> dict[str, Any] | None:
    """An entry shaped like those `path`'s rows make, from its header alone (None if
    it has no usable header: read_rows reports why)."""
    try:
        with _open_text(path) as handle:
            header = next(csv.reader(handle, strict=True), None)
        if not header:
            return None
        header = [h.strip() for h in header]
        return rules.csv_reader(header)(dict.fromkeys(header, "x"))
    except (OSError, ValueError, LookupError, csv.Error, CsvFormatError, InputRefused):
        return None


def _open_text(path: Path | CsvOpener) -> io.TextIOWrapper:
    """The CSV as text: a path is opened only if it is a regular file within the size
    bound; an opener (see CsvOpener) checks that itself."""
    raw = open_regular(path, MAX_CSV_BYTES, str(path)) if isinstance(path, Path) else path()
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


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
    joined = "".join(cells)
    if not joined.isascii():  # look-alikes need a character past ASCII
        reported = {name for name, _ in found}
        for name, cell in zip(header, cells, strict=True):
            problem = lookalike_problem(cell)
            if problem and name not in reported:
                found.append((name, problem))
    # one search per row (cheap on millions of rows); which cell only when it hits
    if CONTROL.search(joined):
        reported = {name for name, _ in found}
        for name, cell in zip(header, cells, strict=True):
            problem = control_problem(cell)
            if problem and name not in reported:
                found.append((name, problem))
    return found

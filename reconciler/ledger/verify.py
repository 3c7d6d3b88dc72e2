"""Checking the ledger's hash chain, and reading one item's history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.ledger.records import GENESIS, HEADER, RECORD_TYPES, RUN, line_hash
from reconciler.ledger.store import HEADER_FILE, iter_lines, run_files


@dataclass
class VerifyReport:
    records: int = 0
    files: int = 0
    breaks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_ledger(ledger_dir: Path) -> VerifyReport:
    """Check every line: JSON, known type, and `prev` matching the line before.

    The first record of a run file must point at a record the ledger holds (the header
    or the end of an earlier file): runs made on two branches both point into the
    shared history, which is how a merged ledger still verifies.
    """
    report = VerifyReport()
    header = ledger_dir / HEADER_FILE
    if not header.exists():
        if run_files(ledger_dir):
            report.breaks.append(f"{HEADER_FILE}: missing, but run files exist")
        return report
    known: set[str] = set()
    header_lines = list(iter_lines(header, report.warnings))
    if len(header_lines) != 1:
        report.breaks.append(f"{HEADER_FILE}: must hold exactly one record")
        return report
    _, line = header_lines[0]
    if not _check(HEADER_FILE, 1, line, GENESIS, report):
        return report
    known.add(line_hash(line))
    report.records = 1
    for path in run_files(ledger_dir):
        report.files += 1
        prev: str | None = None
        for number, line in iter_lines(path, report.warnings):
            expected = prev
            if expected is None:
                expected = _first_prev(line)
                if expected not in known:
                    report.breaks.append(
                        f"{path.name}:{number}: the run's first record points at a record "
                        "the ledger does not hold (a file was removed or edited)"
                    )
                    return report
            if not _check(path.name, number, line, expected, report):
                return report
            prev = line_hash(line)
            known.add(prev)
            report.records += 1
    return report


def _first_prev(line: bytes) -> str:
    try:
        value = json.loads(line).get("prev", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def _check(name: str, number: int, line: bytes, expected: str, report: VerifyReport) -> bool:
    try:
        rec = json.loads(line)
    except ValueError:
        report.breaks.append(f"{name}:{number}: not valid JSON (edited or corrupted)")
        return False
    if not isinstance(rec, dict) or rec.get("type") not in RECORD_TYPES:
        report.breaks.append(f"{name}:{number}: unknown record type {rec.get('type')!r}")
        return False
    if rec.get("prev") != expected:
        report.breaks.append(
            f"{name}:{number}: hash chain broken: this record does not follow the one before "
            "it (a line was edited, removed or reordered)"
        )
        return False
    if (rec["type"] == HEADER) != (name == HEADER_FILE):
        report.breaks.append(f"{name}:{number}: a {rec['type']} record is out of place")
        return False
    return True


def history(ledger_dir: Path, fingerprint: str) -> Iterator[dict[str, Any]]:
    """Every record about one item, oldest first, with its run's details merged in."""
    runs: dict[str, dict[str, Any]] = {}
    needle = fingerprint.encode()
    for path in run_files(ledger_dir):
        for _, line in iter_lines(path, []):
            if b'"type":"run"' in line:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("type") == RUN:
                    runs[rec["run"]] = rec
            if needle not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("fp") == fingerprint:
                run = runs.get(rec.get("run", ""), {})
                yield {**rec, "commit": run.get("commit"), "who": run.get("who")}

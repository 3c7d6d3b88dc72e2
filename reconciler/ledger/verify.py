"""Checking the ledger's hash chain, and reading one item's history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.ledger.records import GENESIS, RUN, line_hash, record_problem
from reconciler.ledger.store import HEADER_FILE, header_problem, iter_lines, parse_record, run_files

_JSON_BREAK = "not valid JSON (edited or corrupted)"
_CHAIN_BREAK = (
    "hash chain broken: this record does not follow the one before it "
    "(a line was edited, removed or reordered)"
)
_UNKNOWN_START = (
    "the run's first record points at a record the ledger does not hold "
    "(a file was removed or edited)"
)
# where a hash was found: (index in the run files, or -1 for the header; line number)
_HEADER = -1


@dataclass
class VerifyReport:
    records: int = 0
    files: int = 0
    breaks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


@dataclass
class _RunFile:
    """What verify learns about one run file."""

    name: str
    start: str | None = None  # the `prev` of its first record: where the run began
    first: int = 0  # the number of its first complete line (0: it has none)
    parent: int | None = None  # the file `start` is in (_HEADER: the header)
    brk: tuple[int, str] | None = None  # its first break: (line, what is wrong)

    def add_break(self, number: int, problem: str) -> None:
        if self.brk is None or number < self.brk[0]:
            self.brk = (number, problem)


def verify_ledger(ledger_dir: Path) -> VerifyReport:
    """Check every line: JSON, known type, the fields the fold reads, and `prev`.

    Within a run file each record's `prev` must be the hash of the line before it. The
    first record of a run file must point at a record the ledger holds (the header, or a
    record of any other run file): runs made on two branches both point into the shared
    history, which is how a merged ledger still verifies. File names play no part, so a
    run whose name sorts before the run it chains from (clock skew between machines)
    verifies.

    Two passes, so that order does not matter: the first reads where each run file's
    first record points; the second hashes every line of every file, checks each file's
    chain and notes where each of those pointers was found. Only those hashes are kept,
    not one per record. A run file that points into itself, or at a file whose history
    leads back to it (a cycle), is a break.

    Reports at most one break per file, the first, in file order; never raises.
    """
    report = VerifyReport()
    try:
        _verify(ledger_dir, report)
    except OSError as exc:
        where = Path(exc.filename).name if exc.filename else ledger_dir.name
        report.breaks.append(f"{where}: cannot be read ({exc.strerror})")
    return report


def check_chain(ledger_dir: Path) -> None:
    """Raise ReconcilerError with the first break when the ledger does not verify."""
    report = verify_ledger(ledger_dir)
    if not report.ok:
        raise ReconcilerError(
            f"the ledger does not verify: {report.breaks[0]}; nothing was sent. "
            "Run `reconcile ledger verify`"
        )


def _verify(ledger_dir: Path, report: VerifyReport) -> None:
    header = ledger_dir / HEADER_FILE
    paths = run_files(ledger_dir)
    if not header.exists():
        if paths:
            report.breaks.append(f"{HEADER_FILE}: missing, but run files exist")
        return
    header_lines = list(iter_lines(header, report.warnings))
    if len(header_lines) != 1:
        report.breaks.append(f"{HEADER_FILE}: must hold exactly one record")
        return
    _, line = header_lines[0]
    problem = _header_problem(line)
    if problem is not None:
        report.breaks.append(f"{HEADER_FILE}:1: {problem}")
        return
    report.records = 1

    # pass 1: where each run begins
    files = [_RunFile(path.name) for path in paths]
    for run, path in zip(files, paths, strict=True):
        run.first, run.start = _first_prev(path)
    wanted = {run.start for run in files if run.start is not None}
    found: dict[str, tuple[int, int]] = {}
    root = line_hash(line)
    if root in wanted:
        found[root] = (_HEADER, 1)

    # pass 2: every line of every run file
    for index, (run, path) in enumerate(zip(files, paths, strict=True)):
        report.files += 1
        prev: str | None = None
        for number, line in iter_lines(path, report.warnings):
            report.records += 1
            digest = line_hash(line)
            if digest in wanted:
                if digest == run.start:
                    run.add_break(
                        run.first,
                        f"the run's first record points at line {number} of its own file "
                        "(lines were reordered)",
                    )
                found.setdefault(digest, (index, number))
            if run.brk is None:
                problem = _line_problem(line, prev)
                if problem is not None:
                    run.brk = (number, problem)
            prev = digest

    # where each run began: a known record of the header or of another file
    for run in files:
        if not run.first or (run.brk is not None and run.brk[0] <= run.first):
            continue
        place = found.get(run.start) if run.start is not None else None
        if place is None:
            run.add_break(run.first, _UNKNOWN_START)
        else:
            run.parent = place[0]
    _find_cycles(files)

    for run in files:
        if run.brk is not None:
            report.breaks.append(f"{run.name}:{run.brk[0]}: {run.brk[1]}")


def _find_cycles(files: list[_RunFile]) -> None:
    """Mark as broken each file whose history (first record's file, that file's first
    record's file, ...) leads back to itself instead of to the header."""
    new, walking, done = 0, 1, 2
    state = [new] * len(files)
    for start in range(len(files)):
        trail: list[int] = []
        at: int | None = start
        while at is not None and at != _HEADER and state[at] == new:
            state[at] = walking
            trail.append(at)
            at = files[at].parent
        if at is not None and at != _HEADER and state[at] == walking:
            cycle = trail[trail.index(at) :]
            for i, index in enumerate(cycle):
                run = files[index]
                other = files[cycle[(i + 1) % len(cycle)]]
                run.add_break(
                    run.first,
                    f"the run's first record points into {other.name}, whose run chains "
                    "back to this one (a cycle: a file was edited)",
                )
        for index in trail:
            state[index] = done


def _first_prev(path: Path) -> tuple[int, str | None]:
    """The number of the file's first complete line (0: none) and the `prev` it holds."""
    lines = iter_lines(path, [])
    try:
        for number, line in lines:
            try:
                value = parse_record(line).get("prev")
            except (ValueError, RecursionError, AttributeError):
                return number, None
            return number, value if isinstance(value, str) else None
    finally:
        lines.close()
    return 0, None


def _header_problem(line: bytes) -> str | None:
    try:
        rec = parse_record(line)
    except (ValueError, RecursionError):
        return _JSON_BREAK
    problem = header_problem(rec)
    if problem is not None:
        return problem
    if rec.get("prev") != GENESIS:
        return _CHAIN_BREAK
    return None


def _line_problem(line: bytes, expected: str | None) -> str | None:
    """What is wrong with a run-file line; `expected` is the previous line's hash (None
    for a file's first line, whose `prev` is checked once every file is hashed)."""
    try:
        rec = parse_record(line)
    except (ValueError, RecursionError):
        return _JSON_BREAK
    problem = record_problem(rec)
    if problem is not None:
        return problem
    if expected is not None and rec.get("prev") != expected:
        return _CHAIN_BREAK
    return None


def history(ledger_dir: Path, fingerprint: str) -> Iterator[dict[str, Any]]:
    """Every record about one item, oldest first, with its run's details merged in.

    Records that are not valid JSON or lack a field are skipped (verify reports them).
    """
    runs: dict[str, dict[str, Any]] = {}
    needle = fingerprint.encode()
    for path in run_files(ledger_dir):
        for _, line in iter_lines(path, []):
            is_run = b'"type":"run"' in line
            if not is_run and needle not in line:
                continue
            rec = _readable(line)
            if rec is None:
                continue
            if rec["type"] == RUN:
                runs[rec["run"]] = rec
            elif rec.get("fp") == fingerprint:
                run = runs.get(rec["run"], {})
                yield {**rec, "commit": run.get("commit"), "who": run.get("who")}


def _readable(line: bytes) -> dict[str, Any] | None:
    try:
        rec = parse_record(line)
    except (ValueError, RecursionError):
        return None
    return rec if record_problem(rec) is None else None

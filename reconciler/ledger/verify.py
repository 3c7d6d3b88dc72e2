"""Checking the ledger, and reading items' histories back out of it.

Verifying is the reader's own pass (reconciler.ledger.fold checks every record as it
folds): `verify_ledger` runs it and reports, never raising; `check_chain` raises on the
first break. What is checked: see the README, "Tamper evidence".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.ledger.chain import legacy_id
from reconciler.ledger.files import RUNS_DIR, FileStorage
from reconciler.ledger.fold import Ledger, parse_record, read_ledger
from reconciler.ledger.gitcheck import GitReport
from reconciler.ledger.header import HEADER_FILE, HeaderProblem, parse_header
from reconciler.ledger.order import Segment, read_structure
from reconciler.ledger.records import (
    FP_CHARS,
    INTENT,
    LETTER_OBSERVED,
    LETTER_STATE,
    NO_RESULT,
    REFRESH,
    RESOLUTION,
    RESULT,
    RESULT_COLUMNS,
    RUN,
    WITHDRAW,
    problem_v2,
    record_problem,
)
from reconciler.ledger.storage import Storage

NO_KEY = (
    "the ledger is keyed and its key is not available: its records' MACs cannot be "
    "checked (set the variable ledger.key_env names)"
)


@dataclass
class VerifyReport:
    records: int = 0
    files: int = 0
    breaks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    conflicts: int = 0
    keyed: bool = False
    heads: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_ledger(
    ledger_dir: Path, key: bytes | None = None, storage: Storage | None = None
) -> VerifyReport:
    """Check every line of the ledger (see the module docstring); what is wrong is in the
    report, never raised. `storage`: another backend than the files under `ledger_dir`
    (PostgreSQL); a database that cannot be reached raises ReconcilerError."""
    report = VerifyReport()
    if storage is not None and not isinstance(storage, FileStorage):
        storage.read_header()  # a database that cannot be reached is an error, not a break
        try:
            return report_of(read_ledger(ledger_dir, key, table=False, storage=storage))
        except HeaderProblem as exc:
            report.breaks.append(f"{HEADER_FILE}:1: {exc.problem}")
        except ReconcilerError as exc:
            report.breaks.append(str(exc))
        return report
    storage = FileStorage(ledger_dir)
    try:
        if not storage.header_path.exists() and storage.parts():
            report.breaks.append(f"{HEADER_FILE}: missing, but run files exist")
            return report
        if storage.header_path.exists():
            storage.header_path.open("rb").close()
        ledger = read_ledger(ledger_dir, key, table=False)
    except HeaderProblem as exc:
        report.breaks.append(f"{HEADER_FILE}:1: {exc.problem}")
        return report
    except ReconcilerError as exc:
        text = str(exc)
        if text.startswith(str(ledger_dir)):
            text = text[len(str(ledger_dir)) :].lstrip("/: ")
        report.breaks.append(text if text.startswith(HEADER_FILE) else f"{HEADER_FILE}: {text}")
        return report
    except OSError as exc:
        where = Path(exc.filename).name if exc.filename else ledger_dir.name
        report.breaks.append(f"{where}: cannot be read ({exc.strerror})")
        return report
    return report_of(ledger)


def report_of(ledger: Ledger) -> VerifyReport:
    """What verify says of a ledger already read."""
    report = VerifyReport(
        records=ledger.records + (1 if ledger.exists else 0),
        files=ledger.files,
        breaks=list(ledger.breaks),
        warnings=list(ledger.warnings),
        conflicts=ledger.conflicts,
        keyed=ledger.header is not None and ledger.header.keyed,
        heads=list(ledger.heads),
    )
    if ledger.exists and (ledger.storage is None or isinstance(ledger.storage, FileStorage)):
        extra = _header_lines(ledger.path)
        if extra:
            report.breaks.insert(0, extra)
    if ledger.unverified is not None and ledger.records:
        report.breaks.append(NO_KEY)
    return report


def _header_lines(ledger_dir: Path) -> str | None:
    lines = FileStorage(ledger_dir).header_lines([])
    if len(lines) != 1:
        return f"{HEADER_FILE}: must hold exactly one record"
    return None


def check_chain(ledger_dir: Path, key: bytes | None = None) -> None:
    """Raise ReconcilerError with the first break when the ledger does not verify."""
    report = verify_ledger(ledger_dir, key)
    if not report.ok:
        raise ReconcilerError(
            f"the ledger does not verify: {report.breaks[0]}; nothing was sent. "
            "Run `reconcile ledger verify`"
        )


# -- histories -------------------------------------------------------------------------


def _segments(ledger_dir: Path, store: Storage | None) -> tuple[Storage, list[Segment]]:
    storage = store or FileStorage(ledger_dir)
    line = storage.read_header()
    if line is None:
        return storage, []
    header = parse_header(line, str(ledger_dir / HEADER_FILE))
    return storage, read_structure(storage, header.id).segments


def item_events(
    ledger_dir: Path,
    fingerprint: str | None = None,
    cite: bool = False,
    storage: Storage | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item event the ledger records, in chain order: one dict per item and
    record, with `type` (intent, result, withdraw, refresh, resolution), `fp` (the
    item's 128-bit key), `target`, `run`, `ts`, the record's own fields for that item,
    and the run's `commit` and `who`. With `fingerprint`, only that item's.

    Records that cannot be read or lack a field are skipped (verify reports them).
    With `cite`, each event also names its record: `record` (the record's id: its `m`,
    or for format 1 the SHA-256 of its line) and `where` (`runs/FILE:LINE`), which
    `reconcile report` cites and `ledger verify --report` looks up.
    """
    key = fingerprint[:FP_CHARS] if fingerprint is not None else None
    needle = key.encode() if key is not None else None
    storage, segments = _segments(ledger_dir, storage)
    runs: dict[str, dict[str, Any]] = {}  # run id -> its run record
    # per run: intent number -> (fingerprints, target, request digest)
    intents: dict[int, dict[int, tuple[list[str], str, str | None]]] = {}
    for seg in segments:
        unit = seg.unit
        mine = intents.setdefault(id(unit), {})
        run_id = unit.key
        start = seg.start or (0, 0)
        end = seg.end
        for index, part in enumerate(unit.parts):
            if index < start[0] or (end is not None and index > end[0]):
                continue
            for number, line in storage.lines(part.name, []):
                if index == start[0] and number <= start[1]:
                    continue
                if end is not None and index == end[0] and number > end[1]:
                    break
                if unit.version == 1:
                    if needle is not None and needle not in line and b'"type":"run"' not in line:
                        continue
                    rec = _readable(line, record_problem)
                    if rec is None:
                        continue
                    if rec["type"] == RUN:
                        runs[rec["run"]] = rec
                        continue
                    if "fp" not in rec:  # an end record: about no item
                        continue
                    if rec["fp"][:FP_CHARS] != key and key is not None:
                        continue
                    run = runs.get(rec["run"], {})
                    event = {
                        **rec,
                        "fp": rec["fp"][:FP_CHARS],
                        "commit": run.get("commit"),
                        "who": run.get("who"),
                    }
                    if cite:
                        event["record"] = legacy_id(line)
                        event["where"] = f"{RUNS_DIR}/{part.name}:{number}"
                    yield event
                    continue
                if (
                    needle is not None
                    and needle not in line
                    and not line.startswith(b'{"type":"run"')
                    and not _refers(line, mine)
                ):
                    continue
                rec = _readable(line, problem_v2)
                if rec is None:
                    continue
                kind = rec["type"]
                if kind == RUN:
                    run_id = rec["run"]
                    runs[run_id] = rec
                    continue
                run = runs.get(run_id, {})
                base = {"run": run_id, "ts": rec["ts"], "commit": run.get("commit")}
                base["who"] = run.get("who")
                if cite:
                    base["record"] = rec.get("m")
                    base["where"] = f"{RUNS_DIR}/{part.name}:{number}"
                yield from _events(rec, kind, base, mine, key)


def _refers(line: bytes, intents: dict[int, Any]) -> bool:
    """Whether a result or withdrawal line points at one of `intents`."""
    if not intents:
        return False
    at = line.find(b'"of":')
    if at == -1:
        return False
    digits = line[at + 5 : at + 25].split(b",", 1)[0]
    return digits.isdigit() and int(digits) in intents


def _events(
    rec: dict[str, Any],
    kind: str,
    base: dict[str, Any],
    intents: dict[int, tuple[list[str], str, str | None]],
    key: str | None,
) -> Iterator[dict[str, Any]]:
    if kind == INTENT:
        fps = rec["fps"]
        if key is not None:
            if key not in fps:
                return
            intents[rec["n"]] = (fps, rec["target"], rec.get("digest"))
            yield {
                **base,
                "type": INTENT,
                "fp": key,
                "target": rec["target"],
                "request": rec.get("digest"),
            }
            return
        intents[rec["n"]] = (fps, rec["target"], rec.get("digest"))
        for fp in fps:
            yield {
                **base,
                "type": INTENT,
                "fp": fp,
                "target": rec["target"],
                "request": rec.get("digest"),
            }
    elif kind in (RESULT, WITHDRAW):
        entry = intents.get(rec["of"])
        if entry is None:
            return
        fps, target, _ = entry
        if kind == WITHDRAW:
            for pos in rec["pos"]:
                if pos < len(fps) and (key is None or fps[pos] == key):
                    yield {**base, "type": WITHDRAW, "fp": fps[pos], "target": target}
            return
        at, s = rec["at"], rec["s"]
        for offset, letter in enumerate(s):
            if letter == NO_RESULT or at + offset >= len(fps):
                continue
            fp = fps[at + offset]
            if key is not None and fp != key:
                continue
            event = {**base, "type": RESULT, "fp": fp, "target": target}
            event["status"] = LETTER_STATE[letter]
            for name in RESULT_COLUMNS:
                value = rec.get(name)
                value = value[offset] if isinstance(value, list) else value
                if value is not None:
                    event[name] = value
            yield event
    elif kind == REFRESH:
        for fp, letter in zip(rec["fps"], rec["s"], strict=False):
            if key is None or fp == key:
                yield {
                    **base,
                    "type": REFRESH,
                    "fp": fp,
                    "target": rec["target"],
                    "observed": LETTER_OBSERVED[letter],
                }
    elif kind == RESOLUTION:
        if key is None or rec["fp"] == key:
            yield {
                **base,
                "type": RESOLUTION,
                "fp": rec["fp"],
                "target": rec["target"],
                "as": rec["as"],
                "reason": rec["reason"],
                "who": rec["who"],
            }


def _readable(line: bytes, problem: Any) -> dict[str, Any] | None:
    try:
        rec = parse_record(line)
    except (ValueError, RecursionError):
        return None
    return rec if problem(rec) is None else None


def history(
    ledger_dir: Path, fingerprint: str, storage: Storage | None = None
) -> Iterator[dict[str, Any]]:
    """Every record about one item, oldest first in chain order, with its run's details
    merged in (see item_events)."""
    return item_events(ledger_dir, fingerprint, storage=storage)


# -- refusing a broken ledger ------------------------------------------------------------

IGNORED = (
    "--ignore-ledger-errors: the ledger does not verify ({first}); this plan trusts records "
    "nothing proves, and what it calls removed may not be"
)


def ledger_problems(ledger: Ledger, git: GitReport | None = None) -> list[str]:
    """Everything that makes `ledger` untrustworthy: breaks, unchecked MACs, and what git
    committed that the working tree no longer holds."""
    problems = list(ledger.breaks)
    if ledger.unverified is not None and ledger.records:
        problems.append(NO_KEY)
    if git is not None:
        problems += git.breaks
    return problems


class LedgerBroken(ReconcilerError):
    def __init__(self, problems: list[str], what: str) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"the ledger does not verify: {problems[0]}{more}; {what}. Run `reconcile ledger "
            "verify`; --ignore-ledger-errors goes on from the readable records (for recovery "
            "only: they prove nothing)"
        )

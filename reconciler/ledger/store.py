"""The ledger on disk: a header file and one append-only file per run.

    state/ledger/header.jsonl          lineage, format, fingerprint scheme, key id, salt
    state/ledger/runs/<start>-<run>.jsonl   one apply or refresh: run, intent, result, ..., end

Files are only ever created or appended to, so two branches' ledgers merge in git
without conflicts. Every write is flushed and fsynced before it returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.desired import KEYED, SALTED, Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.inputs import create_exclusive
from reconciler.ledger.records import (
    ACCEPTED,
    DONE,
    DRIFTED,
    END,
    FORMAT_VERSION,
    HEADER,
    INTENT,
    OBSERVED,
    REFRESH,
    RESULT,
    RESULT_STATES,
    RUN,
    UNKNOWN,
    encode,
    line_hash,
    record_problem,
    show,
)

HEADER_FILE = "header.jsonl"
RUNS_DIR = "runs"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Header:
    lineage: str
    scheme: str
    key_id: str
    salt: str | None
    created: str

    def fingerprinter(self, key: bytes | None) -> Fingerprinter:
        """The fingerprint function this ledger was made with; refuses a different key."""
        if self.scheme == SALTED:
            if key is not None:
                raise ReconcilerError(
                    "the ledger was made without a key (salted SHA-256) but a key is configured: "
                    "fingerprints would not match. Remove ledger.key_env or start a new ledger"
                )
            assert self.salt is not None
            return Fingerprinter.salted(bytes.fromhex(self.salt))
        if key is None:
            raise ReconcilerError(
                "the ledger was made with an HMAC key (ledger.key_env) but none is configured"
            )
        fp = Fingerprinter.keyed(key)
        if fp.key_id != self.key_id:
            raise ReconcilerError(
                f"the ledger was made with a different key (key id {self.key_id}, "
                f"this key's id is {fp.key_id}): fingerprints would not match, refusing to compare"
            )
        return fp


@dataclass(slots=True)
class ItemStatus:
    """One item's folded state and the record that set it."""

    state: str
    target: str
    ts: str
    run: str
    code: int | None = None
    message: str | None = None


@dataclass
class Ledger:
    """What the ledger holds, read once and folded into item states."""

    path: Path
    header: Header | None = None
    items: dict[str, ItemStatus] = field(default_factory=dict)
    serial: int = 0
    digest: str = ""
    warnings: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # target name -> the account (Target.account) its last run reached
    target_accounts: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.header is not None

    @property
    def lineage(self) -> str | None:
        return self.header.lineage if self.header else None

    def state_of(self, fingerprint: str) -> str | None:
        status = self.items.get(fingerprint)
        return status.state if status else None


@dataclass(frozen=True)
class RawLine:
    file: str
    number: int
    data: bytes


def run_files(ledger_dir: Path) -> list[Path]:
    runs = ledger_dir / RUNS_DIR
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if p.suffix == ".jsonl" and p.is_file())


def iter_lines(path: Path, warnings: list[str]) -> Iterator[tuple[int, bytes]]:
    """Complete lines of `path`; a torn last line (no newline) is reported and skipped.

    Read as a stream: a run file of a million records is never held whole.
    """
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.endswith(b"\n"):
                yield number, line[:-1]
            else:  # only the last line can lack its newline
                warnings.append(
                    f"{path.name}:{number}: torn last line (the write was interrupted); ignored"
                )


def header_problem(rec: Any) -> str | None:
    """What is wrong with a parsed header record, or None when it is a usable header."""
    if not isinstance(rec, dict):
        return "not a reconciler ledger header (a JSON object was expected)"
    version = rec.get("format_version")
    if rec.get("type") != HEADER or type(version) is not int or version != FORMAT_VERSION:
        return f"not a reconciler ledger header of format {FORMAT_VERSION}"
    for name in ("lineage", "scheme", "key_id", "created"):
        if name not in rec:
            return f"the ledger header has no '{name}'"
        if type(rec[name]) is not str:
            return f"the ledger header's '{name}' is not a string: {show(rec[name])}"
    if rec["scheme"] not in (KEYED, SALTED):
        return f"the ledger header names an unknown fingerprint scheme {show(rec['scheme'])}"
    salt = rec.get("salt")
    if salt is not None and type(salt) is not str:
        return f"the ledger header's 'salt' is not a string: {show(salt)}"
    if rec["scheme"] == SALTED:
        if salt is None:
            return "the ledger header has no 'salt' (its scheme is salted SHA-256)"
        try:
            bytes.fromhex(salt)
        except ValueError:
            return "the ledger header's 'salt' is not hex"
    return None


def _read_header(ledger_dir: Path) -> tuple[Header | None, bytes | None]:
    """The header, or (None, None) when there is no header file. A header that cannot
    be read or used raises ReconcilerError, never anything else."""
    path = ledger_dir / HEADER_FILE
    if not path.exists():
        return None, None
    try:
        line = path.read_bytes().split(b"\n", 1)[0]
    except OSError as exc:
        raise ReconcilerError(f"{path}: the ledger header cannot be read ({exc.strerror})") from exc
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ReconcilerError(f"{path}: the ledger header is not valid JSON") from exc
    problem = header_problem(rec)
    if problem is not None:
        raise ReconcilerError(f"{path}: {problem}")
    header = Header(rec["lineage"], rec["scheme"], rec["key_id"], rec.get("salt"), rec["created"])
    return header, line


_scan = json.JSONDecoder().scan_once


def parse_record(line: bytes) -> Any:
    """`json.loads(line)`, with the C scanner called directly for the usual record line
    (json.loads would first sniff the encoding of every line)."""
    try:
        text = line.decode("utf-8", "surrogatepass")
        value, end = _scan(text, 0)
    except (UnicodeDecodeError, StopIteration):
        return json.loads(line)
    if end != len(text):
        return json.loads(line)  # raises, as for any trailing garbage
    return value


# A result's status, each state one shared string; a missing key is not a result state
_RESULT_STATE = {state: state for state in RESULT_STATES}


def _new_text(seen: dict[str, str], value: Any) -> str:
    """Remember a string the fold will see again (a target or run id); refuse others."""
    if type(value) is not str:
        raise TypeError(value)
    seen[value] = value
    return value


def read_ledger(ledger_dir: Path) -> Ledger:
    """Read and fold the whole ledger. A missing folder is an empty ledger.

    Run files are folded in the order of their names, and each file's records in file
    order; for each item the last record read wins. A run file's name starts with the
    UTC time its run started (RunWriter), so name order is start order: the fold needs
    no parsing of timestamps and no walk of the hash chain, and reads a million records
    in a few seconds.

    Clock skew: a run started on a machine whose clock is behind (a laptop applying
    after CI) gets a name that sorts before the run that really came first, so its
    records are folded first and the earlier run's records override them. That matters
    only for an item both runs recorded: the fold shows the earlier run's state for it
    (CI's `done` over the laptop's later `failed` or `present`; or CI's `failed` over
    the laptop's later `done`, which only sends that deletion again: every deletion is
    idempotent) until a later run records the item again. Items that only one of the
    runs recorded fold the same in any order. Verifying the hash chain does not depend
    on file names (see verify.verify_ledger).

    A broken header raises ReconcilerError. A run-file record that is not valid JSON,
    has an unknown type or lacks a field the fold needs is skipped, with a warning
    naming its file and line (`reconcile ledger verify` reports it as a break).
    """
    ledger = Ledger(ledger_dir)
    header, header_line = _read_header(ledger_dir)
    try:
        files = run_files(ledger_dir)
    except OSError as exc:
        raise ReconcilerError(f"{ledger_dir}: the ledger cannot be read ({exc.strerror})") from exc
    if header is None:
        if files:
            raise ReconcilerError(f"{ledger_dir}: run files exist but {HEADER_FILE} is missing")
        ledger.digest = hashlib.sha256(b"empty").hexdigest()
        return ledger
    assert header_line is not None
    ledger.header = header
    serial = 1
    digest = hashlib.sha256()
    digest.update(line_hash(header_line).encode())
    items = ledger.items
    warnings = ledger.warnings
    loads = parse_record
    states = _RESULT_STATE
    observed = OBSERVED
    # targets and run ids repeat on every record: keep one copy of each; a value not
    # seen yet is checked to be a string (a non-string never equals a stored key)
    seen: dict[str, str] = {}
    text = seen.get
    for path in files:
        last = b""
        count = 0
        try:
            for number, line in iter_lines(path, warnings):
                try:
                    rec = loads(line)
                except (ValueError, RecursionError):
                    warnings.append(f"{path.name}:{number}: unreadable record; ignored")
                    continue
                try:
                    kind = rec["type"]
                except (KeyError, TypeError):
                    warnings.append(f"{path.name}:{number}: {_problem(rec)}; ignored")
                    continue
                count += 1
                last = line
                # Each branch reads every field before it changes anything, so a record
                # that raises below is skipped whole.
                try:
                    if kind == INTENT:
                        fp = rec["fp"]
                        ts = rec["ts"]
                        if type(fp) is not str or type(ts) is not str:
                            raise TypeError(fp, ts)
                        items[fp] = ItemStatus(
                            UNKNOWN,
                            text(rec["target"]) or _new_text(seen, rec["target"]),
                            ts,
                            text(rec["run"]) or _new_text(seen, rec["run"]),
                        )
                    elif kind == RESULT:
                        fp = rec["fp"]
                        ts = rec["ts"]
                        code = rec.get("code")
                        message = rec.get("message")
                        if (
                            type(fp) is not str
                            or type(ts) is not str
                            or (code is not None and type(code) is not int)
                            or (message is not None and type(message) is not str)
                        ):
                            raise TypeError(fp, ts, code, message)
                        items[fp] = ItemStatus(
                            states[rec["status"]],
                            text(rec["target"]) or _new_text(seen, rec["target"]),
                            ts,
                            text(rec["run"]) or _new_text(seen, rec["run"]),
                            code,
                            message,
                        )
                    elif kind == REFRESH:
                        fp = rec["fp"]
                        ts = rec["ts"]
                        if type(fp) is not str or type(ts) is not str:
                            raise TypeError(fp, ts)
                        present = observed[rec["observed"]]
                        target = text(rec["target"]) or _new_text(seen, rec["target"])
                        run_id = text(rec["run"]) or _new_text(seen, rec["run"])
                        prior = items.get(fp)
                        if present is None:
                            pass  # unverified: nothing changes on guesswork
                        elif present:
                            items[fp] = ItemStatus(DRIFTED, target, ts, run_id)
                        elif prior is not None and prior.state in (ACCEPTED, DRIFTED, UNKNOWN):
                            items[fp] = ItemStatus(DONE, target, ts, run_id)
                    elif kind == RUN or kind == END:  # a few per run: checked in full
                        problem = record_problem(rec)
                        if problem is not None:
                            warnings.append(f"{path.name}:{number}: {problem}; ignored")
                        elif kind == RUN:
                            ledger.runs[rec["run"]] = rec
                            ledger.target_accounts.update(rec.get("targets") or {})
                        else:
                            run = ledger.runs.get(rec["run"])
                            if run is not None:
                                run["ended"] = rec["ts"]
                    else:
                        warnings.append(f"{path.name}:{number}: {_problem(rec)}; ignored")
                except (KeyError, TypeError):
                    warnings.append(f"{path.name}:{number}: {_problem(rec)}; ignored")
        except OSError as exc:
            raise ReconcilerError(f"{path}: the run file cannot be read ({exc.strerror})") from exc
        serial += count
        digest.update(f"\n{path.name}:{count}:{line_hash(last)}".encode())
    ledger.serial = serial
    ledger.digest = digest.hexdigest()
    return ledger


def _problem(rec: Any) -> str:
    return record_problem(rec) or "a malformed record"


def tip_hash(ledger_dir: Path) -> str:
    """The hash of the ledger's newest record: where a new run file chains from."""
    files = run_files(ledger_dir)
    for path in reversed(files):
        last = None
        for _, line in iter_lines(path, []):  # streamed: only the last line is kept
            last = line
        if last is not None:
            return line_hash(last)
    _, header_line = _read_header(ledger_dir)
    if header_line is None:
        raise ReconcilerError(f"{ledger_dir}: no ledger here")
    return line_hash(header_line)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_ledger(
    ledger_dir: Path, fingerprinter: Fingerprinter, lineage: str | None = None
) -> Header:
    """Write the header of a new ledger (atomically: temp file, fsync, rename)."""
    ledger_dir.mkdir(parents=True, exist_ok=True)
    target = ledger_dir / HEADER_FILE
    if target.exists():
        raise ReconcilerError(f"{target} exists: a ledger is already here")
    record: dict[str, Any] = {
        "type": HEADER,
        "format_version": FORMAT_VERSION,
        "lineage": lineage or secrets.token_hex(16),
        "scheme": fingerprinter.scheme,
        "key_id": fingerprinter.key_id,
        "created": now(),
        "tool_version": __version__,
        "prev": "0" * 64,
    }
    if fingerprinter.scheme == SALTED:
        record["salt"] = fingerprinter.secret.hex()
    tmp = ledger_dir / f".{HEADER_FILE}.{os.getpid()}.tmp"
    with os.fdopen(create_exclusive(tmp), "wb") as handle:
        handle.write(encode(record) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    _fsync_dir(ledger_dir)
    header, _ = _read_header(ledger_dir)
    assert header is not None
    return header


def new_salted() -> Fingerprinter:
    return Fingerprinter.salted(secrets.token_bytes(32))


def result_fields(
    fp: str,
    target: str,
    status: str,
    code: int | None,
    message: str | None,
    request_id: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    if status not in RESULT_STATES:
        raise ValueError(f"not a result state: {status}")
    fields: dict[str, Any] = {"fp": fp, "target": target, "status": status, "code": code}
    if message is not None:
        fields["message"] = message
    if request_id is not None:
        fields["request_id"] = request_id
    if note is not None:
        fields["note"] = note
    return fields


class RunWriter:
    """Appends one run's records to its own file, each fsynced before returning."""

    def __init__(self, ledger_dir: Path, run_id: str, info: dict[str, Any]) -> None:
        runs = ledger_dir / RUNS_DIR
        if runs.is_symlink():
            raise ReconcilerError(
                f"{runs} is a symbolic link: the ledger is never written through one"
            )
        runs.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self._prev = tip_hash(ledger_dir)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = runs / f"{stamp}-{run_id}.jsonl"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._handle = os.fdopen(fd, "ab")
        _fsync_dir(runs)
        self.append(RUN, **info)

    def append(self, kind: str, **fields: Any) -> str:
        return self.append_many([(kind, fields)])

    def append_many(self, records: list[tuple[str, dict[str, Any]]]) -> str:
        """Write records in order, then one flush and fsync: durable when this returns."""
        out = bytearray()
        stamp = now()
        for kind, fields in records:
            record = {"type": kind, "run": self.run_id, "ts": stamp, "prev": self._prev, **fields}
            line = encode(record)
            out += line + b"\n"
            self._prev = line_hash(line)
        self._handle.write(out)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        return self._prev

    def intent(self, fp: str, target: str, request_digest: str, attempt: int = 1) -> None:
        self.intents([fp], target, request_digest, attempt)

    def intents(self, fps: list[str], target: str, request_digest: str, attempt: int = 1) -> None:
        """One intent per item of a request, durable before the request is sent."""
        self.append_many(
            [
                (
                    INTENT,
                    {"fp": fp, "target": target, "request": request_digest, "attempt": attempt},
                )
                for fp in fps
            ]
        )

    def result(
        self,
        fp: str,
        target: str,
        status: str,
        code: int | None,
        message: str | None,
        request_id: str | None = None,
        note: str | None = None,
    ) -> None:
        self.results([result_fields(fp, target, status, code, message, request_id, note)])

    def results(self, fields: list[dict[str, Any]]) -> None:
        """Results of one request (see result_fields), durable when this returns."""
        self.append_many([(RESULT, f) for f in fields])

    def refresh(self, fp: str, target: str, observed: str) -> None:
        self.append(REFRESH, fp=fp, target=target, observed=observed)

    def refreshes(self, target: str, observed: list[tuple[str, str]]) -> None:
        """One read's observations, (fingerprint, present|absent|unverified) each."""
        self.append_many(
            [(REFRESH, {"fp": fp, "target": target, "observed": seen}) for fp, seen in observed]
        )

    def close(self, **summary: Any) -> None:
        if not self._handle.closed:
            self.append(END, **summary)
            self._handle.close()

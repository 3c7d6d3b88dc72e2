"""Format-1 ledgers, written as reconciler 0.1.x wrote them (the RunWriter of commit
3f8220f, reduced to what tests need), so the reader's format-1 path stays tested: one
record per item event, sorted keys, `prev` = SHA-256 of the line before, and each run
file chained from the last line of the file whose name sorts last."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.desired import Fingerprinter
from reconciler.ledger.header import legacy_header_line, now
from reconciler.ledger.store import FileStorage, run_files


def create_legacy_ledger(
    ledger_dir: Path, fingerprinter: Fingerprinter, lineage: str | None = None
) -> None:
    FileStorage(ledger_dir).create_header(
        legacy_header_line(fingerprinter, lineage or secrets.token_hex(16), now())
    )


def _hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _tip(ledger_dir: Path) -> str:
    for path in reversed(run_files(ledger_dir)):
        lines = [x for x in path.read_bytes().split(b"\n")[:-1]]
        if lines:
            return _hash(lines[-1])
    return _hash((ledger_dir / "header.jsonl").read_bytes().split(b"\n")[0])


class LegacyRunWriter:
    def __init__(self, ledger_dir: Path, run_id: str, info: dict[str, Any]) -> None:
        runs = ledger_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self._prev = _tip(ledger_dir)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = runs / f"{stamp}-{run_id}.jsonl"
        self._handle = open(self.path, "xb")  # noqa: SIM115
        self.append("run", **info)

    def append(self, kind: str, **fields: Any) -> None:
        record = {"type": kind, "run": self.run_id, "ts": now(), "prev": self._prev, **fields}
        line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        data = line.encode()
        self._handle.write(data + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._prev = _hash(data)

    def close(self, **summary: Any) -> None:
        self.append("end", **summary)
        self._handle.close()


def legacy_write_run(
    ledger_dir: Path,
    outcomes: list[tuple[str, str, str]],
    run_id: str | None = None,
    commit: str = "c0ffee1",
    close: bool = True,
) -> LegacyRunWriter:
    """As tests.kit.ledger.write_run, in format 1."""
    writer = LegacyRunWriter(
        ledger_dir,
        run_id or secrets.token_hex(4),
        {"op": "apply", "commit": commit, "who": "tester@ci"},
    )
    for fp, target, outcome in outcomes:
        if outcome in ("present", "absent"):
            writer.append("refresh", fp=fp, target=target, observed=outcome)
            continue
        writer.append("intent", fp=fp, target=target, request="d" * 64, attempt=1)
        if outcome == "unknown":
            continue
        code = {"accepted": 202, "done": 200, "failed": 503, "rejected": 400}[outcome]
        message = {"failed": "Service Unavailable", "rejected": "invalid identifier"}.get(outcome)
        fields: dict[str, Any] = {"fp": fp, "target": target, "status": outcome, "code": code}
        if message is not None:
            fields["message"] = message
        fields["request_id"] = f"req-{fp[:6]}"
        writer.append("result", **fields)
    if close:
        writer._handle.flush()
        writer.close(sent=len(outcomes))
    else:
        writer._handle.close()
    return writer

"""Ledger records: their kinds, their canonical bytes, and the hash chain over them.

Every record is one line of compact JSON with sorted keys. `prev` holds the SHA-256 of
the previous record's line in the same file (the first record of a run file points at
the last record the ledger held when the run began, or at the header), so the ledger is
a hash chain per file, joined into a tree where branches were merged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

FORMAT_VERSION = 1

HEADER = "header"
RUN = "run"
INTENT = "intent"
RESULT = "result"
REFRESH = "refresh"
END = "end"
RECORD_TYPES = frozenset({HEADER, RUN, INTENT, RESULT, REFRESH, END})

# Item states (CONTRACT section 5)
PENDING = "pending"
UNKNOWN = "unknown"
ACCEPTED = "accepted"
DONE = "done"
FAILED = "failed"
REJECTED = "rejected"
DRIFTED = "drifted"
STATES = (PENDING, UNKNOWN, ACCEPTED, DONE, FAILED, REJECTED, DRIFTED)
RESULT_STATES = frozenset({ACCEPTED, DONE, FAILED, REJECTED})
# States the next apply sends again
ACTIONABLE = frozenset({PENDING, UNKNOWN, FAILED, DRIFTED})

GENESIS = "0" * 64

# What a refresh saw at the vendor: is the item there?
OBSERVED = {"present": True, "absent": False, "unverified": None}

# The fields each kind of run-file record must hold (RunWriter writes them all): the
# fold reads these, `ledger show` and `ledger find` print them.
_COMMON = ("run", "ts")
REQUIRED_TEXT: dict[str, tuple[str, ...]] = {
    RUN: _COMMON,
    INTENT: (*_COMMON, "fp", "target"),
    RESULT: (*_COMMON, "fp", "target", "status"),
    REFRESH: (*_COMMON, "fp", "target", "observed"),
    END: _COMMON,
}


def encode(record: dict[str, Any]) -> bytes:
    """The record's one line, without the newline."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def show(value: Any) -> str:
    """A value from a record, for a message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def record_problem(rec: Any) -> str | None:
    """What is wrong with a parsed run-file record, in plain words, or None when it holds
    every field the fold and the ledger commands read, with the right JSON type.

    The hash chain (`prev`) is not checked here: verify compares it with the line before.
    """
    if not isinstance(rec, dict):
        return "not a record (a JSON object was expected)"
    if "type" not in rec:
        return "record without 'type'"
    kind = rec["type"]
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        return f"unknown record type {show(kind)}"
    if kind == HEADER:
        return "header record out of place (only header.jsonl holds one)"
    for name in REQUIRED_TEXT[kind]:
        if name not in rec:
            return f"{kind} record without '{name}'"
        if type(rec[name]) is not str:
            return f"{kind} record whose '{name}' is not a string: {show(rec[name])}"
    if kind == RESULT:
        if rec["status"] not in RESULT_STATES:
            return f"result record with an unknown status {show(rec['status'])}"
        code = rec.get("code")
        if code is not None and type(code) is not int:
            return f"result record whose 'code' is not an integer: {show(code)}"
        message = rec.get("message")
        if message is not None and type(message) is not str:
            return f"result record whose 'message' is not a string: {show(message)}"
    elif kind == REFRESH:
        if rec["observed"] not in OBSERVED:
            return (
                f"refresh record with an unknown observation {show(rec['observed'])} "
                "(present or absent)"
            )
    elif kind == RUN:
        targets = rec.get("targets")
        if targets is not None and not (
            isinstance(targets, dict) and all(type(v) is str for v in targets.values())
        ):
            return f"run record whose 'targets' is not an object of strings: {show(targets)}"
    return None

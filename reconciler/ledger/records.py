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


def encode(record: dict[str, Any]) -> bytes:
    """The record's one line, without the newline."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()

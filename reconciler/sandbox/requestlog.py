"""The log of requests the sandbox received, with every rule each one broke."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One vendor rule a request broke: a stable rule id and a human message."""

    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass
class LoggedRequest:
    """One request as the sandbox saw it and answered it."""

    seq: int
    time: float
    vendor: str
    method: str
    path: str
    query: str
    status: int = 0
    fault: str = "none"
    violations: list[Violation] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "vendor": self.vendor,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "fault": self.fault,
            "violations": [v.as_dict() for v in self.violations],
        }


class RequestLog:
    """A bounded, ordered log (the oldest entries go first when it is full)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def open(self, time: float, vendor: str, method: str, path: str, query: str) -> LoggedRequest:
        """Start an entry; the caller fills in status and violations as it answers."""
        entry = LoggedRequest(next(self._seq), time, vendor, method, path, query)
        self._entries.append(entry)
        return entry

    def entries(self, vendor: str | None = None, since: int = 0) -> list[LoggedRequest]:
        """Entries with ``seq > since``, optionally for one vendor only."""
        return [
            e for e in self._entries if e.seq > since and (vendor is None or e.vendor == vendor)
        ]

    def clear(self) -> None:
        self._entries.clear()

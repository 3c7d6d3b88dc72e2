"""What a vendor's answer proves: the vocabulary every adapter reads answers into.

The ledger says an item is `done` only on evidence, and records which evidence:

- `removed`: the vendor's documented answer says it deleted the item;
- `absent`: the vendor's documented answer (or a documented read that followed it)
  proves the item was not there;
- `confirmed`: a later read showed it gone (refresh);
- `resolved`: a person checked and recorded it (`ledger resolve`).

An answer that proves nothing (a generic 404, a page that is not the vendor's API, a
2xx without the documented body) never makes an item `done`. An answer about the whole
account (credentials, a wrong space, store, partner or base URL) stops the target and
leaves its items to be retried, never `rejected`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from reconciler.states import ACCEPTED, DONE, FAILED, REJECTED

REMOVED = "removed"
ABSENT = "absent"
CONFIRMED = "confirmed"
RESOLVED = "resolved"
EVIDENCE = (REMOVED, ABSENT, CONFIRMED, RESOLVED)

# Not a result state: the answer does not say whether the vendor acted, and sending again
# is not safe, so no result is recorded and the item stays `unknown` (held by plan).
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Answer:
    """A vendor's HTTP answer, reduced to what interpreters need."""

    status: int
    headers: dict[str, str]
    body: object  # parsed JSON, or the text when it is not JSON (None when empty)
    json: bool = True  # whether the body was JSON

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def describe(self) -> str:
        """`HTTP 404, text/html`: what came back, never what it said."""
        kind = self.content_type or ("JSON" if self.json else "no content type")
        return f"HTTP {self.status}, {kind}"


@dataclass(frozen=True)
class Outcome:
    """What one answer means for one item.

    `state` is a result state (done, accepted, failed, rejected) or UNKNOWN (record no
    result). A `done` outcome names its `evidence`. `stop` says why the whole target
    must stop (the item is then `failed`, retried by the next apply). `check` asks the
    engine to send a read first and let the vendor `settle` the item on its answer.
    """

    state: str
    code: int | None
    message: str | None = None
    evidence: str | None = None
    vendor_code: str | None = None
    note: str | None = None
    request_id: str | None = None
    stop: str | None = None
    check: Any = None  # a VendorRequest to read before deciding

    def __post_init__(self) -> None:
        if self.state == DONE and self.evidence not in EVIDENCE:
            raise ValueError("a done outcome must name its evidence")
        if self.state != DONE and self.evidence is not None:
            raise ValueError("only a done outcome carries evidence")

    @property
    def already_absent(self) -> bool:
        return self.evidence == ABSENT

    def with_request_id(self, request_id: str | None) -> Outcome:
        return replace(self, request_id=request_id) if request_id else self


def removed(code: int, vendor_code: str | None = None, note: str | None = None) -> Outcome:
    return Outcome(DONE, code, evidence=REMOVED, vendor_code=vendor_code, note=note)


def absent(code: int, vendor_code: str | None = None, message: str | None = None) -> Outcome:
    return Outcome(DONE, code, message, evidence=ABSENT, vendor_code=vendor_code)


def accepted(code: int, note: str | None = None, vendor_code: str | None = None) -> Outcome:
    return Outcome(ACCEPTED, code, note=note, vendor_code=vendor_code)


def failed(code: int | None, message: str, vendor_code: str | None = None) -> Outcome:
    return Outcome(FAILED, code, message, vendor_code=vendor_code)


def rejected(code: int | None, message: str, vendor_code: str | None = None) -> Outcome:
    return Outcome(REJECTED, code, message, vendor_code=vendor_code)


def stop(code: int | None, why: str, vendor_code: str | None = None) -> Outcome:
    """The answer is about the whole target: stop sending to it; the item is failed."""
    return Outcome(FAILED, code, why, vendor_code=vendor_code, stop=why)


def not_the_vendor(answer: Answer, vendor: str) -> Outcome:
    """An answer that is not the vendor's documented shape: a wrong base URL, a proxy's
    page, a path the vendor does not serve. It proves nothing about any item."""
    return stop(
        answer.status,
        f"the answer is not {vendor}'s API ({answer.describe()}): check the target's base_url",
    )


def credentials_refused(answer: Answer, detail: str | None) -> Outcome:
    what = "credentials refused" if answer.status == 401 else "permission refused"
    return stop(answer.status, f"{what} (HTTP {answer.status}){f': {detail}' if detail else ''}")


def error_text(body: object) -> str | None:
    """The vendor's own words from an error body, whatever its envelope."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code, msg = err.get("code"), err.get("message")
            return f"{code}: {msg}" if code and msg else str(msg or code)
        if isinstance(err, str):
            return err
        for key in ("message", "errors", "code"):
            if body.get(key):
                return str(body[key])
    if isinstance(body, str) and body.strip():
        return body.strip()  # cut only after masking: a cut value cannot be matched
    return None


__all__ = [
    "ABSENT",
    "ACCEPTED",
    "CONFIRMED",
    "DONE",
    "EVIDENCE",
    "FAILED",
    "REJECTED",
    "REMOVED",
    "RESOLVED",
    "UNKNOWN",
    "Answer",
    "Outcome",
]

"""What a vendor's answer means for each item of a request."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.ledger.records import ACCEPTED, DONE, FAILED, REJECTED

# Not a result state: the answer does not say whether the vendor acted, and sending again
# is not safe, so no result is recorded and the item stays `unknown` (held by plan).
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Outcome:
    state: str  # done, accepted, failed, rejected; or UNKNOWN: record no result
    code: int | None
    message: str | None = None
    already_absent: bool = False
    note: str | None = None
    request_id: str | None = None
    stop_target: bool = False  # credentials refused: stop sending to this target


@dataclass(frozen=True)
class Answer:
    """A vendor's HTTP answer, reduced to what interpreters need."""

    status: int
    headers: dict[str, str]
    body: object  # parsed JSON, or the text when it is not JSON

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


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


def by_status(answer: Answer, n: int, ok_state: str) -> list[Outcome]:
    """The common reading: 2xx ok, 401/403 stop the target, other 4xx rejected."""
    status = answer.status
    message = error_text(answer.body)
    if 200 <= status < 300:
        return [Outcome(ok_state, status, None)] * n
    if status in (401, 403):
        text = f"credentials refused: {message or status}"
        return [Outcome(FAILED, status, text, stop_target=True)] * n
    if 400 <= status < 500:
        return [Outcome(REJECTED, status, message)] * n
    return [Outcome(FAILED, status, message)] * n


__all__ = ["ACCEPTED", "DONE", "FAILED", "REJECTED", "UNKNOWN", "Answer", "Outcome", "by_status"]

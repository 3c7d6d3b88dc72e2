"""Reading an OpenDSR processor's answers: its error envelopes, its status bodies, the
signature headers (reconciler/vendors/opendsr/FACTS.md §2, §3, §7)."""

from __future__ import annotations

from typing import Any

from reconciler.evidence import Answer

STATUSES = ("pending", "in_progress", "completed", "cancelled")
# The header prefixes a processor signs with: the standard's, the older OpenGDPR one it
# must still honour [SPEC 10.1], and mParticle's (FACTS.md §7.1)
HEADER_PREFIXES = ("X-OpenCompliance", "X-OpenGDPR", "X-OpenDSR")


def error_of(body: object) -> tuple[str, str] | None:
    """(code, words) of a processor's error: wrapped in `error` as the standard has it,
    or at the top level as mParticle's example has it (FACTS.md §7.3); None for any other
    shape, which is not the processor's answer."""
    if not isinstance(body, dict):
        return None
    wrapped = body.get("error")
    found: dict[str, Any] | None = None
    if isinstance(wrapped, dict) and isinstance(wrapped.get("message"), str):
        found = wrapped
    elif "code" in body and isinstance(body.get("message"), str):
        found = body
    if found is None:
        return None
    reasons = [
        str(e.get("reason") or e.get("message"))
        for e in found.get("errors") or []
        if isinstance(e, dict) and (e.get("reason") or e.get("message"))
    ]
    words = str(found["message"]) + (f" ({'; '.join(reasons)})" if reasons else "")
    return str(found.get("code", "")), words


def status_of(answer: Answer | None, request_id: str) -> str | None:
    """The `request_status` of a documented status answer about `request_id`, or None."""
    if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
        return None
    status = answer.body.get("request_status")
    said = answer.body.get("subject_request_id")
    if status not in STATUSES or (said is not None and said != request_id):
        return None
    return str(status)


def not_found(answer: Answer | None) -> bool:
    """The processor's own 404 (in its error envelope): no request with this id."""
    return answer is not None and answer.status == 404 and error_of(answer.body) is not None


def signature_note(answer: Answer) -> str:
    """What the answer's signature headers say, for the record (not verified: FACTS.md)."""
    for prefix in HEADER_PREFIXES:
        domain = answer.header(f"{prefix}-Processor-Domain")
        signed = answer.header(f"{prefix}-Signature")
        if domain or signed:
            who = f"processor domain {domain}" if domain else "no processor domain header"
            how = f"signed ({prefix}-Signature, not verified)" if signed else "unsigned"
            return f"{who}; {how}"
    return "unsigned: no signature headers"

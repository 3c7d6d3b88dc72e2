"""OpenDSR: one erasure request per data subject, `POST {requests_path}`.

Requests (reconciler/vendors/opendsr/FACTS.md §1): `regulation` from the target,
`subject_request_id` from the item (ids.py: the same item, the same id), `erasure`, the
identities in the standard's array shape, format `raw`, and `submitted_time`. Sending one
again is safe (FACTS.md in this package, §2): it is idempotent.

Evidence (FACTS.md §2, §5, §8):

- 201 with the documented body naming our id: accepted (the processor received it;
  only a status read answering `completed` proves the erasure); the signature headers
  are noted. `encoded_request` holds the raw identities and is never read or kept.
- 400 in the processor's error envelope: maybe "already exists" (our id sent before,
  e.g. the answer to the first send was lost), maybe a real refusal: the status read of
  our id decides. completed: done (removed); pending, in_progress: accepted (the first
  send landed); cancelled: rejected (not erased, and the id is spent: a person checks);
  the processor's 404: rejected with its words; anything else: failed (sent again).
- 409: another request for these identities is in progress (not ours): failed, sent
  again by a later apply.
- 401, 403: the credentials: the target stops. 404: the route is wrong (base_url with its
  version, requests_path): the target stops.
- other 4xx in the envelope: rejected; anything else: not the processor's API: stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.desired import Item
from reconciler.evidence import (
    REJECTED,
    Answer,
    Outcome,
    accepted,
    credentials_refused,
    failed,
    not_the_vendor,
    rejected,
    removed,
    stop,
)
from reconciler.target import Target
from reconciler.vendors.api import Preflight, VendorRequest
from reconciler.vendors.kit import OneItemPerRequest, basic_auth, preflight_reading, segment_part
from reconciler_opendsr.answers import error_of, not_found, signature_note, status_of
from reconciler_opendsr.ids import subject_request_id
from reconciler_opendsr.rules import IDENTITIES, SUBMITTED

LABEL = "OpenDSR"
DEFAULT_PATH = "/opencompliance_requests"
SUPPORTED = "supported_identities"  # preflight fact: the types the processor takes raw


def requests_path(target: Target) -> str:
    return str(target.settings.get("requests_path") or DEFAULT_PATH)


def status_read(target_path: str, request_id: str) -> VendorRequest:
    return VendorRequest("GET", f"{target_path}/{segment_part(request_id)}")


def body_of(target: Target, item: Item) -> dict[str, Any]:
    identities = item.locator[IDENTITIES]
    return {
        "regulation": target.settings.get("regulation", "gdpr"),
        "subject_request_id": subject_request_id(item),
        "subject_request_type": "erasure",
        "subject_identities": [
            {"identity_type": t, "identity_value": identities[t], "identity_format": "raw"}
            for t in sorted(identities)
        ],
        "submitted_time": item.removal[SUBMITTED],
    }


class OpenDSRRequests(OneItemPerRequest):
    vendor_label = LABEL

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        # idempotent: the same item, the same subject_request_id (see the module docstring)
        return VendorRequest("POST", requests_path(target), body=body_of(target, item))

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        """`auth: basic`: the secret is KEY:SECRET (mParticle's workspace key and secret,
        FACTS.md §1); `auth: bearer`: the secret is the token."""
        credentials = secrets["credentials_env"]
        if target.settings.get("auth") == "bearer":
            return {"Authorization": f"Bearer {credentials}"}
        key, _, secret = credentials.partition(":")
        return {"Authorization": basic_auth(key, secret)}

    def preflight(self, target: Target) -> list[VendorRequest]:
        # /discovery (FACTS.md §3): proves host, version and credentials, and says which
        # identities the processor takes before anything is sent
        return [VendorRequest("GET", "/discovery")]

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        (answer,) = answers
        found = preflight_reading(LABEL, answer, _is_discovery, "a /discovery read")
        if not found.ok:
            return found
        assert answer is not None and isinstance(answer.body, dict)
        body = answer.body
        if "erasure" not in body["supported_subject_request_types"]:
            return Preflight(
                "the processor's /discovery lists no erasure requests",
                "this processor cannot erase: remove the target or its manifests",
            )
        raw = sorted(
            {
                i["identity_type"]
                for i in body["supported_identities"]
                if isinstance(i, dict) and i.get("identity_format", "raw") == "raw"
            }
        )
        return Preflight(facts={SUPPORTED: raw})

    def admissible(self, item: Item, facts: dict[str, Any]) -> str | None:
        supported: list[str] | None = facts.get(SUPPORTED)
        if supported is None:
            return None
        missing = sorted(t for t in item.locator[IDENTITIES] if t not in supported)
        if not missing:
            return None
        return (
            f"the processor does not take identity type {', '.join(missing)} in raw format "
            f"(its /discovery lists: {', '.join(supported) or 'none'})"
        )

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        return [_read_create(answer, request)]

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        """After a 400: does the processor hold a request with our id?"""
        request_id = subject_request_id(item)
        status = status_of(answer, request_id)
        if status == "completed":
            return removed(200, "request_status:completed", _EARLIER + " and completed it")
        if status in ("pending", "in_progress"):
            return accepted(200, f"{_EARLIER} ({status})", f"request_status:{status}")
        if status == "cancelled":
            return rejected(
                200,
                "the processor's request for this data subject was cancelled: not erased. Its "
                "id is spent (sending it again is refused as a duplicate): check at the "
                "processor",
                "request_status:cancelled",
            )
        if not_found(answer):
            return rejected(400, outcome.message or "refused (HTTP 400)", outcome.vendor_code)
        seen = answer.describe() if answer is not None else "no answer"
        return failed(
            400,
            f"the processor refused the request (HTTP 400) and the status read of its id "
            f"proved nothing ({seen}): {outcome.message}",
        )


_EARLIER = "the processor refused a duplicate: it holds the earlier request with this id"


def _is_discovery(answer: Answer) -> bool:
    body = answer.body
    return (
        answer.status == 200
        and isinstance(body, dict)
        and isinstance(body.get("supported_identities"), list)
        and isinstance(body.get("supported_subject_request_types"), list)
    )


def _read_create(answer: Answer, request: VendorRequest) -> Outcome:
    ours = request.body["subject_request_id"]
    body = answer.body
    if answer.status == 201:
        if answer.json and isinstance(body, dict) and body.get("subject_request_id") == ours:
            return accepted(201, signature_note(answer), "request_status:pending")
        return not_the_vendor(answer, LABEL)
    if answer.status in (401, 403):
        error = error_of(body)
        return credentials_refused(answer, error[1] if error else None)
    if answer.status == 404:
        return stop(
            404,
            "the processor answered 404 to its requests route: check base_url (with the API "
            "version, e.g. /v1) and requests_path",
        )
    error = error_of(body) if answer.json else None
    if error is None or not 400 <= answer.status < 500:
        return not_the_vendor(answer, LABEL)
    code, words = error
    if answer.status == 400:
        return Outcome(
            REJECTED, 400, words, vendor_code=code or None, check=status_read(request.path, ours)
        )
    if answer.status == 409:
        return failed(
            409,
            f"the processor is already acting on another request for these identities: "
            f"{words} (a later apply sends this one again)",
            code or None,
        )
    return rejected(answer.status, words, code or None)

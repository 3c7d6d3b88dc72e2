"""Twilio Memory: reading an identifier type back (FACTS.md §3).

`GET .../Profiles/{p}/Identifiers/{idType}`: values listed are present (Memory may have
promoted one again from traits), an empty list or Twilio's 404 is absent, a 301 (a
merged profile) is followed to the canonical profile. Anything else: unverified.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from reconciler.desired import Item
from reconciler.evidence import Answer
from reconciler.target import Target
from reconciler.vendors.api import (
    ABSENT_SEEN,
    PRESENT,
    UNVERIFIED,
    Observation,
    Pair,
    VendorRequest,
)
from reconciler.vendors.kit import segment_part
from reconciler.vendors.twilio_memory.requests import (
    _PROFILE_IN_PATH,
    PROFILE_ID,
    _profile_path,
    is_twilio_error,
)


class TwilioMemoryReader:
    def read_batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        return [[p] for p in pairs]

    def read_request(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        id_type = segment_part(str(item.removal["type"]))
        path = f"{_profile_path(target, str(item.locator['profile_id']))}/Identifiers/{id_type}"
        return VendorRequest("GET", path)

    def observe(
        self, answer: Answer | None, request: VendorRequest, items: Sequence[Item]
    ) -> list[Observation | VendorRequest]:
        if answer is None:
            return [Observation(UNVERIFIED, "no answer")]
        body = answer.body
        if answer.status == 200 and isinstance(body, dict) and isinstance(body.get("values"), list):
            return [Observation(PRESENT if body["values"] else ABSENT_SEEN)]
        if answer.status == 404 and is_twilio_error(body):
            return [Observation(ABSENT_SEEN)]
        if answer.status == 301:
            follow = _canonical(answer, request)
            if follow is not None:
                return [follow]
        return [Observation(UNVERIFIED, f"not Twilio's answer ({answer.describe()})")]


def _canonical(answer: Answer, request: VendorRequest) -> VendorRequest | None:
    """The same read on the canonical profile a 301 names, in the same store."""
    location = answer.header("location") or ""
    moved = _PROFILE_IN_PATH.search(urlsplit(location).path)
    ours = _PROFILE_IN_PATH.search(request.path)
    canonical = answer.header("canonical-profile-id") or (moved["profile"] if moved else "")
    if ours is None or not PROFILE_ID.fullmatch(canonical):
        return None
    if moved is not None and moved["store"] != ours["store"]:
        return None
    path = request.path[: ours.start("profile")] + canonical + request.path[ours.end("profile") :]
    return VendorRequest("GET", path)

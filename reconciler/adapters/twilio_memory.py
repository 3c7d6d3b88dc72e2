"""Twilio Memory: `DELETE .../Identifiers/{idType}?removeAll=true`, one type each.

202 -> accepted (removal is asynchronous). 308: the profile was merged; the answer's
Location names the canonical profile, followed once. 404 -> done, already absent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from reconciler.adapters.requests import (
    OneItemPerRequest,
    VendorRequest,
    basic_auth,
    segment_part,
)
from reconciler.apply.outcome import ACCEPTED, DONE, Answer, Outcome, by_status
from reconciler.config import Target
from reconciler.desired import Item

PROFILE_ID = re.compile(r"mem_profile_[0-7][0-9a-z]{25}")
_PROFILE_IN_PATH = re.compile(r"/v1/Stores/(?P<store>[^/]+)/Profiles/(?P<profile>[^/]+)")


class TwilioMemoryRequests(OneItemPerRequest):
    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        store = segment_part(target.settings["store_id"])
        profile = segment_part(str(item.locator["profile_id"]))
        id_type = segment_part(item.removal["type"])
        path = f"/v1/Stores/{store}/Profiles/{profile}/Identifiers/{id_type}"
        return VendorRequest("DELETE", path, query={"removeAll": "true"})

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        return {"Authorization": basic_auth(secrets["account_sid_env"], secrets["auth_token_env"])}

    def preflight(self, target: Target) -> VendorRequest | None:
        # A DELETE answers 404 alike for a missing profile, identifier type or store; the
        # first two mean "already absent", the last a wrong store_id. Reading the store
        # first tells them apart.
        store = segment_part(target.settings["store_id"])
        return VendorRequest("GET", f"/v1/ControlPlane/Stores/{store}")

    def preflight_problem(self, answer: Answer | None) -> str | None:
        if answer is None:
            return "could not read the store before sending (no answer)"
        if answer.status == 404:
            return "the store was not found: check store_id (nothing was sent)"
        if answer.status in (401, 403):
            return f"credentials refused reading the store: {_message(answer)}"
        if not 200 <= answer.status < 300:
            return f"could not read the store (HTTP {answer.status}): {_message(answer)}"
        return None

    def redirect(self, answer: Answer, request: VendorRequest) -> VendorRequest | None:
        """The same removal on the canonical profile the 308 names, in the same store.

        Only the profile id is taken from the answer: the Location's host and any path
        before `/v1/` (a proxy's, the sandbox's) are not ours to follow.
        """
        location = answer.header("location")
        if answer.status != 308 or not location:
            return None
        moved = _PROFILE_IN_PATH.search(urlsplit(location).path)
        ours = _PROFILE_IN_PATH.search(request.path)
        if moved is None or ours is None or moved["store"] != ours["store"]:
            return None
        canonical = answer.header("canonical-profile-id") or unquote(moved["profile"])
        if not PROFILE_ID.fullmatch(canonical):
            return None
        path = (
            request.path[: ours.start("profile")] + canonical + request.path[ours.end("profile") :]
        )
        return VendorRequest(request.method, path, dict(request.query), request.body)

    def interpret(self, answer: Answer, items: Sequence[Item]) -> list[Outcome]:
        n = len(items)
        if answer.status == 404:
            return [Outcome(DONE, 404, _message(answer), already_absent=True)] * n
        if answer.status == 308:
            return [Outcome("failed", 308, "redirected again after following one redirect")] * n
        return by_status(answer, n, ACCEPTED)


def _message(answer: Answer) -> str | None:
    body = answer.body
    if isinstance(body, dict):
        return f"{body.get('code')}: {body.get('message')}"
    return None

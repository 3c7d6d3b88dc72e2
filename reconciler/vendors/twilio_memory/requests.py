"""Twilio Memory: `DELETE .../Identifiers/{idType}?removeAll=true`, one type each.

Preflight (reconciler/vendors/twilio_memory/FACTS.md §3; the OpenAPI spec): the store
read, then the store's `IdentityResolutionSettings`, whose `identifierConfigs` name the
identifier types the store knows. An item of another type is never sent (a typo, or the
wrong case: idTypes are case-sensitive): it would only come back 404.

Evidence:

- 202 (Twilio JSON): accepted: "Asynchronously remove stored values"
  (reconciler/vendors/twilio_memory/FACTS.md §2, §5)
- 308 with Location/Canonical-Profile-Id: the profile was merged: followed once, to the
  canonical profile
- 404 (Twilio error body): proves nothing by itself: the profile read `GET
  .../Profiles/{p}` decides: profile present (and the type configured) = done, already
  absent; profile missing = rejected, check the profile_id
- 401, 403: credentials or permission: the target stops
- other 4xx: rejected
- not Twilio's JSON error shape (`{"code", "message"}`): a wrong base URL: the target
  stops

Memory derives identifiers from traits and can promote a removed value again: refresh
reads the profile back and catches that.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from reconciler.desired import Item
from reconciler.evidence import (
    Answer,
    Outcome,
    absent,
    accepted,
    credentials_refused,
    failed,
    not_the_vendor,
    rejected,
    stop,
)
from reconciler.target import Target
from reconciler.vendors.api import Preflight, VendorRequest
from reconciler.vendors.kit import OneItemPerRequest, basic_auth, preflight_reading, segment_part

LABEL = "Twilio Memory"
PROFILE_ID = re.compile(r"mem_profile_[0-7][0-9a-z]{25}")
_PROFILE_IN_PATH = re.compile(r"/v1/Stores/(?P<store>[^/]+)/Profiles/(?P<profile>[^/]+)")
ID_TYPES = "id_types"  # the preflight fact: identifier types configured in the store


def is_twilio_error(body: object) -> bool:
    """The TwilioError shape (reconciler/vendors/twilio_memory/FACTS.md §2):
    `{"code": int, "message": str, ...}`."""
    return (
        isinstance(body, dict)
        and type(body.get("code")) is int
        and isinstance(body.get("message"), str)
    )


def _profile_path(target: Target, profile_id: str) -> str:
    store = segment_part(target.settings["store_id"])
    return f"/v1/Stores/{store}/Profiles/{segment_part(profile_id)}"


class TwilioMemoryRequests(OneItemPerRequest):
    vendor_label = LABEL

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        id_type = segment_part(item.removal["type"])
        path = f"{_profile_path(target, str(item.locator['profile_id']))}/Identifiers/{id_type}"
        return VendorRequest("DELETE", path, query={"removeAll": "true"})

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        return {"Authorization": basic_auth(secrets["account_sid_env"], secrets["auth_token_env"])}

    def preflight(self, target: Target) -> list[VendorRequest]:
        store = segment_part(target.settings["store_id"])
        return [
            VendorRequest("GET", f"/v1/ControlPlane/Stores/{store}"),
            VendorRequest("GET", f"/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings"),
        ]

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        store_answer, settings = answers
        if store_answer is not None and store_answer.status == 404:
            if is_twilio_error(store_answer.body):
                return Preflight("the store was not found", "check store_id")
        found = preflight_reading(
            LABEL,
            store_answer,
            lambda a: a.status == 200 and isinstance(a.body, dict),
            "the store read",
        )
        if not found.ok:
            return found
        read = preflight_reading(
            LABEL,
            settings,
            lambda a: a.status == 200 and _id_types(a.body) is not None,
            "the store's identity resolution settings",
        )
        if not read.ok:
            return read
        assert settings is not None
        return Preflight(facts={ID_TYPES: _id_types(settings.body)})

    def admissible(self, item: Item, facts: dict[str, Any]) -> str | None:
        configured: list[str] | None = facts.get(ID_TYPES)
        id_type = item.removal["type"]
        if configured is None or id_type in configured:
            return None
        hint = ""
        near = [t for t in configured if t.lower() == id_type.lower()]
        near = near or difflib.get_close_matches(id_type, configured, n=1)
        if near:
            hint = f"; did you mean {near[0]!r}? (idTypes are case-sensitive)"
        return (
            f"identifier type {id_type!r} is not configured in this store (configured: "
            f"{', '.join(sorted(configured))}){hint}"
        )

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

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        return [_read(answer, request)]

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        """After a DELETE's 404: is the profile there?"""
        if answer is not None and answer.status == 200 and isinstance(answer.body, dict):
            return absent(404, outcome.vendor_code, "the profile holds no values of this type")
        if answer is not None and answer.status == 404 and is_twilio_error(answer.body):
            return rejected(
                404,
                "profile not found in this store: check the profile_id; nothing was removed",
                outcome.vendor_code,
            )
        seen = answer.describe() if answer is not None else "no answer"
        return failed(404, f"a 404 that the profile read could not explain ({seen})")


def _id_types(body: object) -> list[str] | None:
    if not isinstance(body, dict) or not isinstance(body.get("identifierConfigs"), list):
        return None
    types = [c.get("idType") for c in body["identifierConfigs"] if isinstance(c, dict)]
    return [t for t in types if isinstance(t, str)]


def _read(answer: Answer, request: VendorRequest) -> Outcome:
    status, body = answer.status, answer.body
    if status == 202 and answer.json:
        return accepted(202)
    if status == 308:
        return failed(308, "redirected again after following one redirect")
    if not is_twilio_error(body):
        return not_the_vendor(answer, LABEL)
    assert isinstance(body, dict)
    vendor_code = str(body["code"])
    message = f"{body['code']}: {body['message']}"
    if status == 404:
        # the profile the DELETE addressed (the canonical one after a followed 308)
        profile_path = request.path[: request.path.rindex("/Identifiers/")]
        return Outcome(
            "failed",
            404,
            message,
            vendor_code=vendor_code,
            check=VendorRequest("GET", profile_path),
        )
    if status in (401, 403):
        return credentials_refused(answer, message)
    if 400 <= status < 500:
        return rejected(status, message, vendor_code)
    return stop(status, f"unexpected answer: {message}", vendor_code)

"""Segment: `POST .../profiles/user_id:{id}/external_ids/delete`, one identifier each.

Answers (FACTS 1.1): 200 `success` -> done; 404 `eid_not_found` (identifier absent) and
404 `not_found` (profile absent) -> done, already absent; 401/403 stop the target; other
4xx -> rejected. 429 and 5xx are retried by the client before we see them.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.adapters.requests import (
    OneItemPerRequest,
    VendorRequest,
    basic_auth,
    no_redirect,
    segment_part,
)
from reconciler.apply.outcome import DONE, Answer, Outcome, by_status
from reconciler.config import Target
from reconciler.desired import Item

ALREADY_ABSENT = ("eid_not_found", "not_found")


def _error_code(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return str(code) if code else None
    return None


class SegmentRequests(OneItemPerRequest):
    # "delete_external_ids is an array with a limit of 1 per request" (FACTS 1.1)
    redirect = staticmethod(no_redirect)

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        space = segment_part(target.settings["space_id"])
        # A `+` must be %2B in the lookup (FACTS 1.2); quote() escapes it and the rest.
        user = segment_part(str(item.locator["user_id"]))
        path = f"/v1/spaces/{space}/collections/users/profiles/user_id:{user}/external_ids/delete"
        body = {
            "delete_external_ids": [{"id": item.removal["value"], "type": item.removal["type"]}]
        }
        return VendorRequest("POST", path, body=body)

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        # Basic auth: the access token is the username, the password is empty
        return {"Authorization": basic_auth(secrets["token_env"], "")}

    def interpret(self, answer: Answer, items: Sequence[Item]) -> list[Outcome]:
        request_id = answer.header("request-id")
        if answer.status == 404 and _error_code(answer.body) in ALREADY_ABSENT:
            code = _error_code(answer.body)
            return [Outcome(DONE, 404, code, already_absent=True, request_id=request_id)]
        outcomes = by_status(answer, len(items), DONE)
        return [
            Outcome(o.state, o.code, o.message, o.already_absent, o.note, request_id, o.stop_target)
            for o in outcomes
        ]

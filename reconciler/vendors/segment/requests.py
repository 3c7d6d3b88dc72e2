"""Segment: `POST .../profiles/user_id:{id}/external_ids/delete`, one identifier each.

Evidence (reconciler/vendors/segment/FACTS.md §2, the delete page's response table; every
error in the Profile API envelope `{"error": {"code", "message"}}`):

- 200 (JSON, code `success` or none): done: removed ("Segment deleted the identifier
  from the real-time Identity Graph")
- 404 `eid_not_found`: done: already absent ("External identifier not found")
- 404 `not_found`: proves nothing about the identifier: the profile (or the URL) was not
  found; rejected with "check the user_id"
- 404 `source_id_not_found`, 403 `forbidden`, 401: the space or the token: the target
  stops
- 400 `unsupported_eid_type` / `bad_request`: rejected: this identifier cannot be
  deleted as asked
- anything else: an HTML page, JSON without the envelope: not Segment's answer (a wrong
  base URL): the target stops

429 and 5xx are retried by the client before an answer reaches `interpret`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item, load_canonical
from reconciler.evidence import (
    Answer,
    Outcome,
    absent,
    credentials_refused,
    not_the_vendor,
    rejected,
    removed,
    stop,
)
from reconciler.target import Target
from reconciler.vendors.api import Preflight, VendorRequest
from reconciler.vendors.kit import (
    PROBE_ID,
    OneItemPerRequest,
    basic_auth,
    preflight_reading,
    segment_part,
)

LABEL = "Segment"
TARGET_LEVEL = {"source_id_not_found", "forbidden", "unauthorized"}


def error_code(body: object) -> str | None:
    """The code of a Profile API error envelope, or None when the body is not one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return str(code) if isinstance(code, str) and code else None
    return None


def _message(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        return str(message) if message else None
    return None


def _profile_path(target: Target, user_id: str) -> str:
    space = segment_part(target.settings["space_id"])
    # A `+` must be %2B in the lookup (reconciler/vendors/segment/FACTS.md §3); quote()
    # escapes it and the rest.
    return f"/v1/spaces/{space}/collections/users/profiles/user_id:{segment_part(user_id)}"


class SegmentRequests(OneItemPerRequest):
    # "delete_external_ids is an array with a limit of 1 per request"
    # (reconciler/vendors/segment/FACTS.md §1)
    vendor_label = LABEL

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        path = _profile_path(target, str(item.locator["user_id"])) + "/external_ids/delete"
        body = {
            "delete_external_ids": [{"id": item.removal["value"], "type": item.removal["type"]}]
        }
        return VendorRequest("POST", path, body=body)

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        # Basic auth: the access token is the username, the password is empty
        return {"Authorization": basic_auth(secrets["token_env"], "")}

    def preflight(self, target: Target) -> list[VendorRequest]:
        # The Profile API read of a user nobody has (reconciler/vendors/segment/FACTS.md §3):
        # a 404 `not_found` in Segment's envelope proves the host and the token. It cannot
        # prove the delete permission (no delete is harmless): a 403 on the first delete
        # stops the target.
        path = _profile_path(target, PROBE_ID) + "/external_ids"
        return [VendorRequest("GET", path, query={"limit": "1"})]

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        (answer,) = answers
        return preflight_reading(
            LABEL,
            answer,
            # a 200 only with the documented body (FACTS.md §3): a page a wrong base URL
            # serves with 200 must not pass
            lambda a: (
                (a.status == 200 and isinstance(a.body, dict) and "data" in a.body)
                or (a.status == 404 and error_code(a.body) == "not_found")
            ),
            "a Profile API read",
        )

    def fast_preview(
        self, target: Target, mask: Callable[[str], str]
    ) -> Callable[[bytes], tuple[str, str, str] | None] | None:
        """Identifier removals, the bulk of large plans, rendered without building the
        item, its masked copy, the request or any dict (the JSON test holds this
        byte-identical to the general path)."""
        head = _profile_path(target, "")  # the space's path, up to the user id
        encode = encode_basestring

        def preview(canonical: bytes) -> tuple[str, str, str] | None:
            target_name, locator, removal = load_canonical(canonical)
            user_id = locator.get("user_id")
            kind = removal.get("kind")
            id_type = removal.get("type")
            value = removal.get("value")
            if not (
                len(locator) == 1
                and len(removal) == 3
                and type(target_name) is str
                and type(user_id) is str
                and kind == "identifier"
                and type(id_type) is str
                and type(value) is str
            ):
                return None
            shown_user, shown_value = mask(user_id), mask(value)
            path = f"{head}{segment_part(shown_user)}/external_ids/delete"
            request = (
                f'{{"method": "POST", "path": {encode(path)}, "body": {{"delete_external_ids": '
                f'[{{"id": {encode(shown_value)}, "type": {encode(id_type)}}}]}}}}'
            )
            return "identifier", f"{id_type} {shown_value} on user_id {shown_user}", request

        return preview

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        (item,) = items
        return [_read(answer, item).with_request_id(answer.header("request-id"))]


def _read(answer: Answer, item: Item) -> Outcome:
    status, body = answer.status, answer.body
    code = error_code(body)
    if status == 200:
        if not answer.json or not isinstance(body, dict) or "error" in body:
            return not_the_vendor(answer, LABEL)
        if body.get("code") not in (None, "success"):
            return not_the_vendor(answer, LABEL)
        return removed(200, "success")
    if code is None:
        return not_the_vendor(answer, LABEL)
    message = _message(body)
    if status == 404 and code == "eid_not_found":
        return absent(404, code)
    if status == 404 and code == "not_found":
        return rejected(
            404,
            "profile not found: no profile has this user_id (user_ids are case-sensitive): "
            "check the user_id; nothing was removed",
            code,
        )
    if status in (401, 403) or code in TARGET_LEVEL:
        if status in (401, 403):
            return credentials_refused(answer, f"{code}: {message}")
        return stop(status, f"{code}: {message} (check the space_id)", code)
    if 400 <= status < 500:
        return rejected(status, f"{code}: {message}", code)
    return stop(status, f"unexpected answer {status} {code}", code)

"""Segment Unify: Delete Profile Identifier API and the Profile API external_ids read.

Routes (below the Segment base URL, exactly the vendor's paths):

- ``POST /v1/spaces/{space}/collections/users/profiles/user_id:{id}/external_ids/delete``
- ``GET  /v1/spaces/{space}/collections/users/profiles/{type}:{value}/external_ids``

Error bodies use the Profile API envelope ``{"error": {"code", "message"}}``: the delete
page lists codes and messages but shows no JSON, and its columns match that envelope.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from reconciler.sandbox.context import VendorSpec, context_of, entry_of
from reconciler.sandbox.credentials import parse_basic
from reconciler.sandbox.ratelimit import Decision, Limit
from reconciler.sandbox.replies import RuleCheck, is_json_content, json_reply, read_json
from reconciler.sandbox.requestlog import Violation
from reconciler.sandbox.state import SandboxState, SegmentSpace

# "up to 100 deletion requests per second per space and 100 deletions per second for
# identifiers on a single profile"; the Profile API also allows 100 requests/s per space.
# The docs do not say whether the two budgets are shared: the stricter reading is that
# they are, so reads and deletes count against ONE bucket per space.
SPACE_LIMIT = Limit(100, 1.0)
DELETE_RATE_MESSAGE = "Attempted to delete more than 100 IDs per second for a single profile."
READ_RATE_MESSAGE = "Too many requests: more than 100 requests per second for this space."
SUCCESS = {"code": "success", "message": "External identifier has been deleted."}


def _error(status: int, code: str, message: str) -> web.Response:
    return json_reply(status, {"error": {"code": code, "message": message}}, _request_id())


def _request_id() -> dict[str, str]:
    return {"Request-Id": str(uuid.uuid4())}


def _body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _authorized(request: web.Request) -> bool:
    creds = parse_basic(request.headers.get("Authorization"))
    if creds is None:
        return False
    token, password = creds
    # The token is the user and the password is empty ("echo -n 'your_token:'").
    return password == "" and context_of(request).credentials.segment_ok(token)


def _rate_limited(request: web.Request, message: str) -> web.Response:
    entry_of(request).violations.append(Violation("segment.rate_limit", message))
    return _error(429, "rate_limit_error", message)


async def delete_external_id(request: web.Request) -> web.Response:
    ctx = context_of(request)
    entry = entry_of(request)
    space_id = request.match_info["space"]
    collection = request.match_info["collection"]
    lookup = request.match_info["lookup"]
    check = RuleCheck(entry)

    if not _authorized(request):
        check.broke(
            "segment.auth",
            "Basic auth with the token as user and an empty password",
            401,
            _body("unauthorized", "The specified token is invalid."),
        )
        return check.response
    if not ctx.limiter.hit("segment", space_id, SPACE_LIMIT).allowed:
        return _rate_limited(request, DELETE_RATE_MESSAGE)

    lookup_type, sep, user_id = lookup.partition(":")
    if collection != "users":
        check.broke(
            "segment.collection",
            "only the users collection",
            400,
            _body("bad_request", f"Invalid collection: `{collection}`."),
        )
    if not sep or not user_id:
        check.broke(
            "segment.lookup_missing",
            "the URL must name user_id:<value>",
            400,
            _body("bad_request", "Missing required parameters in URL."),
        )
    elif lookup_type != "user_id":
        check.broke(
            "segment.lookup_user_id",
            "profiles are located by user_id only",
            400,
            _body("bad_request", "Invalid URL: valid `user_id` is required."),
        )
    if not is_json_content(request):
        # The page says to send Content-Type: application/json; the sandbox enforces it
        # (a stricter reading than "may be ignored"), with a message of its own.
        check.broke(
            "segment.content_type",
            "Content-Type must be application/json",
            400,
            _body("bad_request", "Content-Type must be application/json."),
        )
    ok, body = await read_json(request)
    target = _single_external_id(check, ok, body)
    if check.failed or target is None:
        return check.response
    id_type, id_value = target

    space = ctx.state.segment_spaces.get(space_id)
    refusal = _space_refusal(space, space_id)
    if refusal is not None:
        rule, status, code, message = refusal
        check.broke(rule, message, status, _body(code, message))
        return check.response
    assert space is not None
    profile = space.find("user_id", user_id)
    if profile is None:
        check.broke(
            "segment.profile_not_found",
            "no profile has this user_id",
            404,
            _body("not_found", "The resource was not found."),
        )
        return check.response
    if id_type == "user_id":
        if id_value == user_id:
            check.broke(
                "segment.lookup_differs",
                "the lookup user_id cannot be deleted",
                400,
                _body("bad_request", "External id specification must differ from lookup id."),
            )
        elif sum(1 for e in profile.external_ids if e.type == "user_id") <= 1:
            check.broke(
                "segment.last_user_id",
                "Profiles must have at least one user_id",
                400,
                _body("bad_request", "Profiles must have at least one `user_id`."),
            )
        if check.failed:
            return check.response
    if not profile.has(id_type, id_value):
        check.broke(
            "segment.eid_not_found",
            "the identifier is not on this profile",
            404,
            _body("eid_not_found", "External identifier not found."),
        )
        return check.response
    profile.external_ids = [
        e for e in profile.external_ids if not (e.type == id_type and e.id == id_value)
    ]
    return json_reply(200, SUCCESS, _request_id())


def _single_external_id(check: RuleCheck, ok: bool, body: object) -> tuple[str, str] | None:
    if not ok:
        check.broke(
            "segment.json",
            "the body must be JSON",
            400,
            _body("bad_request", "Request body is not valid JSON."),
        )
        return None
    items = body.get("delete_external_ids") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) != 1:
        check.broke(
            "segment.one_identifier",
            "delete_external_ids holds exactly one identifier",
            400,
            _body("bad_request", "Only one external_id can be deleted at a time."),
        )
        return None
    item = items[0]
    if (
        not isinstance(item, dict)
        or not isinstance(item.get("id"), str)
        or not isinstance(item.get("type"), str)
        or not item["id"]
        or not item["type"]
    ):
        check.broke(
            "segment.identifier_shape",
            "each identifier is {id, type} strings",
            400,
            _body("bad_request", "Missing required parameters in URL."),
        )
        return None
    if item["type"] == "group_id":
        check.broke(
            "segment.group_id",
            "group_id cannot be deleted (profiles only)",
            400,
            _body("unsupported_eid_type", "Unsupported external id type."),
        )
        return None
    return item["type"], item["id"]


def _space_refusal(space: SegmentSpace | None, space_id: str) -> tuple[str, int, str, str] | None:
    if space is None or not space.source_attached:
        return (
            "segment.source",
            404,
            "source_id_not_found",
            f"No source attached to space_id `{space_id}`.",
        )
    if not space.delete_enabled:
        return (
            "segment.not_activated",
            403,
            "forbidden",
            f"Deleted identifier not activated for space_id `{space_id}`.",
        )
    return None


async def list_external_ids(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    space_id = request.match_info["space"]
    if not _authorized(request):
        check.broke(
            "segment.auth",
            "Basic auth with the token as user and an empty password",
            401,
            _body("authentication_error", "The specified token is invalid."),
        )
        return check.response
    if not ctx.limiter.hit("segment", space_id, SPACE_LIMIT).allowed:
        return _rate_limited(request, READ_RATE_MESSAGE)
    lookup_type, sep, value = request.match_info["lookup"].partition(":")
    if request.match_info["collection"] != "users" or not sep or not value:
        check.broke(
            "segment.lookup",
            "lookups are <id_type>:<value> in the users collection",
            400,
            _body("validation_error", "Invalid profile lookup."),
        )
    limit = _int_param(request.query.get("limit", "10"))
    if limit is None or not 1 <= limit <= 100:
        check.broke(
            "segment.limit",
            "limit is between 1 and 100",
            400,
            _body("validation_error", "limit must be between 1 and 100."),
        )
    offset = _cursor(request.query.get("next", ""))
    if offset is None:
        check.broke(
            "segment.cursor",
            "next must be a cursor returned by this API",
            400,
            _body("validation_error", "Invalid cursor."),
        )
    if check.failed:
        return check.response
    assert limit is not None and offset is not None
    space = ctx.state.segment_spaces.get(space_id)
    profile = space.find(lookup_type, value) if space else None
    if profile is None:
        return _error(404, "not_found", "Profile was not found.")
    include = {t for t in request.query.get("include", "").split(",") if t}
    ids = [e for e in profile.external_ids if not include or e.type in include]
    page = ids[offset : offset + limit]
    has_more = offset + limit < len(ids)
    vendor_path = request.path.removeprefix("/segment")
    body = {
        "data": [e.as_dict() for e in page],
        "cursor": {
            "url": vendor_path,
            "has_more": has_more,
            "next": f"map_{offset + limit}" if has_more else "",
        },
    }
    return json_reply(200, body, _request_id())


def _int_param(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def _cursor(raw: str) -> int | None:
    if not raw:
        return 0
    if raw.startswith("map_") and raw[4:].isdigit():
        return int(raw[4:])
    return None


def _unavailable() -> web.Response:
    return _error(503, "service_unavailable", "Service Unavailable")


def _throttled(_: Decision | None) -> web.Response:
    return _error(429, "rate_limit_error", DELETE_RATE_MESSAGE)


_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "rate_limit_error",
}


def _error_body(status: int, message: str, _: list[str]) -> dict[str, dict[str, str]]:
    code = _ERROR_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    return _body(code, message)


def _related(state: SandboxState, request: web.Request, _: Any) -> list[str]:
    """Every external id of the profile the path's lookup names."""
    space = state.segment_spaces.get(request.match_info.get("space", ""))
    id_type, sep, value = request.match_info.get("lookup", "").partition(":")
    profile = space.find(id_type, value) if space is not None and sep else None
    return [e.id for e in profile.external_ids] if profile is not None else []


_PROFILE = "/v1/spaces/{space}/collections/{collection}/profiles/{lookup}"
VENDOR = VendorSpec(
    name="segment",
    routes=[
        ("POST", _PROFILE + "/external_ids/delete", delete_external_id),
        ("GET", _PROFILE + "/external_ids", list_external_ids),
    ],
    unavailable=_unavailable,
    throttled=_throttled,
    error=_error_body,
    related=_related,
)

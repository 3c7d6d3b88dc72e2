"""Braze: ``POST /users/delete`` and ``POST /users/export/ids``.

Every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (epoch seconds) for the endpoint's bucket, as Braze documents.
Errors use Braze's fatal shape ``{"message": ..., "errors": [...]}``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web

from reconciler.sandbox.context import VendorSpec, context_of, entry_of
from reconciler.sandbox.credentials import parse_bearer
from reconciler.sandbox.ratelimit import Decision, Limit
from reconciler.sandbox.replies import RuleCheck, is_json_content, json_reply, read_json
from reconciler.sandbox.state import BrazeUser, SandboxState

# 20,000/min shared with /users/alias/new, /users/identify, /users/merge, /users/alias/update.
DELETE_LIMIT = Limit(20_000, 60.0)
# /users/export/ids: 250/min for workspaces onboarded on or after 2024-08-22, 2,500/min
# before. The sandbox applies the stricter 250/min.
EXPORT_LIMIT = Limit(250, 60.0)
MAX_IDS = 50
ID_FIELDS = ("external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers")
PRIORITIES = ("identified", "unidentified", "most_recently_updated")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
ONE_TYPE = (
    "Only one of external_ids, user_aliases, braze_ids, email_addresses, "
    "or phone_numbers can be included in a single request."
)


def _rate_headers(decision: Decision) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(int(decision.reset_at)),
    }


def _fatal(message: str, errors: list[str] | None = None) -> dict[str, Any]:
    return {"message": message, "errors": errors or [message]}


def _gate(
    request: web.Request, check: RuleCheck, bucket: str, limit: Limit, permission: str
) -> dict[str, str] | None:
    """Auth, permission and rate limit. Returns the rate headers, or None when refused."""
    ctx = context_of(request)
    key = parse_bearer(request.headers.get("Authorization"))
    permissions = ctx.credentials.braze_permissions(key) if key else None
    if key is None or permissions is None:
        check.broke(
            "braze.auth", "Authorization: Bearer <REST API key>", 401, _fatal("Invalid API key")
        )
        return None
    if permission not in permissions:
        check.broke(
            "braze.permission",
            f"the key needs the {permission} permission",
            403,
            _fatal("Access Denied"),
        )
        return None
    decision = ctx.limiter.hit(bucket, key, limit)
    headers = _rate_headers(decision)
    if not decision.allowed:
        check.broke(
            "braze.rate_limit",
            f"{decision.limit} requests per minute",
            429,
            _fatal("Rate Limited"),
            headers,
        )
        return None
    return headers


async def delete_users(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    headers = _gate(request, check, "braze-users", DELETE_LIMIT, "users.delete")
    if headers is None:
        return check.response
    body = await _json_object(request, check, headers)
    present = [f for f in ID_FIELDS if body is not None and f in body]
    if body is not None and len(present) != 1:
        check.broke(
            "braze.one_type",
            "exactly one identifier type per request",
            400,
            _fatal(ONE_TYPE),
            headers,
        )
    if check.failed or body is None:
        return check.response
    field = present[0]
    entries = body[field]
    _check_entries(check, field, entries, headers)
    if check.failed:
        return check.response
    ctx.state.settle_braze(ctx.clock())
    # A user already queued is no longer a candidate: a re-sent email delete picks the
    # next user that matches, which is what makes these deletes non-idempotent.
    live = [u for u in ctx.state.braze_users if not u.queued]
    doomed: list[BrazeUser] = []
    for entry in entries:
        for user in _select(live, field, entry):
            if not any(user is d for d in doomed):
                doomed.append(user)
    # "number of user IDs queued for deletion": the users stay (exports still find them)
    # until the removal delay has passed or /_sandbox/settle is called.
    due = ctx.clock() + ctx.options.braze_removal_delay
    for user in doomed:
        user.deletion_due = due
    # The success status is not documented: Braze answers its other accepted POSTs with
    # 201, which the sandbox uses, so clients must accept any 2xx.
    return json_reply(201, {"deleted": len(doomed), "message": "success"}, headers)


async def _json_object(
    request: web.Request, check: RuleCheck, headers: dict[str, str]
) -> dict[str, Any] | None:
    if not is_json_content(request):
        check.broke(
            "braze.content_type",
            "Content-Type must be application/json",
            400,
            _fatal("Content-Type must be application/json"),
            headers,
        )
    ok, body = await read_json(request)
    if not ok or not isinstance(body, dict):
        check.broke(
            "braze.json",
            "the body must be a JSON object",
            400,
            _fatal("Invalid JSON body"),
            headers,
        )
        return None
    return body


def _check_entries(check: RuleCheck, field: str, entries: Any, headers: dict[str, str]) -> None:
    if not isinstance(entries, list) or not entries:
        check.broke(
            "braze.entries",
            f"{field} must be a non-empty array",
            400,
            _fatal(f"{field} must be a non-empty array"),
            headers,
        )
        return
    if len(entries) > MAX_IDS:
        message = (
            "The max number of external_ids and aliases per request was exceeded"
            if field in ("external_ids", "user_aliases")
            else "The max number of ids per request was exceeded"
        )
        check.broke(
            "braze.max_ids", f"at most {MAX_IDS} ids per request", 400, _fatal(message), headers
        )
    for i, entry in enumerate(entries):
        problem = _entry_problem(field, entry)
        if problem is not None:
            rule, message = problem
            check.broke(
                rule, f"{field}[{i}]: {message}", 400, _fatal(f"{field}[{i}]: {message}"), headers
            )


def _entry_problem(field: str, entry: Any) -> tuple[str, str] | None:
    if field in ("external_ids", "braze_ids"):
        if not isinstance(entry, str) or not entry:
            return "braze.id_string", "must be a non-empty string"
        return None
    if field == "user_aliases":
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry.get(k) for k in ("alias_name", "alias_label")
        ):
            return "braze.alias", "must be {alias_name, alias_label}"
        return None
    key = "email" if field == "email_addresses" else "phone"
    # The parameter table says "array of strings" but the prose and the example require
    # {email, prioritization} objects; a bare string cannot carry the required
    # prioritization, so the sandbox takes the stricter reading and refuses strings.
    if not isinstance(entry, dict) or not isinstance(entry.get(key), str) or not entry[key]:
        return "braze.contact_object", f"must be {{{key}, prioritization}}"
    return _prioritization_problem(entry.get("prioritization"))


def _prioritization_problem(value: Any) -> tuple[str, str] | None:
    if not isinstance(value, list) or not value:
        return "braze.prioritization", "prioritization is a required non-empty array"
    if any(v not in PRIORITIES for v in value):
        return "braze.prioritization", f"prioritization values are {', '.join(PRIORITIES)}"
    if len(set(value)) != len(value):
        return "braze.prioritization", "prioritization values must not repeat"
    if "identified" in value and "unidentified" in value:
        return "braze.prioritization", "only one of identified or unidentified may appear"
    return None


def _select(users: list[BrazeUser], field: str, entry: Any) -> list[BrazeUser]:
    if field == "external_ids":
        return [u for u in users if u.external_id == entry]
    if field == "braze_ids":
        return [u for u in users if u.braze_id == entry]
    if field == "user_aliases":
        alias = (entry["alias_name"], entry["alias_label"])
        return [u for u in users if alias in u.user_aliases]
    if field == "email_addresses":
        candidates = [u for u in users if u.email == entry["email"]]
    else:
        candidates = [u for u in users if u.phone == entry["phone"]]
    for priority in entry["prioritization"]:
        if priority == "identified":
            candidates = [u for u in candidates if u.external_id]
        elif priority == "unidentified":
            candidates = [u for u in candidates if not u.external_id]
        elif candidates:
            newest = max(u.updated_at for u in candidates)
            candidates = [u for u in candidates if u.updated_at == newest]
    # "Deleting users will not occur if more than one user matches a prioritization."
    return candidates if len(candidates) == 1 else []


async def export_ids(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    headers = _gate(request, check, "braze-export", EXPORT_LIMIT, "users.export.ids")
    if headers is None:
        return check.response
    body = await _json_object(request, check, headers)
    if body is None:
        return check.response
    _check_export(check, body, headers)
    if check.failed:
        return check.response
    ctx.state.settle_braze(ctx.clock())
    users = ctx.state.braze_users  # queued deletions included until they are applied
    found: list[BrazeUser] = []
    invalid: list[str] = []
    for external_id in body.get("external_ids", []):
        matches = [u for u in users if u.external_id == external_id]
        found.extend(matches)
        if not matches:
            invalid.append(external_id)
    for alias in body.get("user_aliases", []):
        found.extend(
            u for u in users if (alias["alias_name"], alias["alias_label"]) in u.user_aliases
        )
    for key, attr in (("braze_id", "braze_id"), ("email_address", "email"), ("phone", "phone")):
        if key in body:
            found.extend(u for u in users if getattr(u, attr) == body[key])
    unique = list({id(u): u for u in found}.values())
    answer: dict[str, Any] = {
        "message": "success",
        "users": [u.export(body["fields_to_export"]) for u in unique],
    }
    if invalid:
        answer["invalid_user_ids"] = invalid
    return json_reply(201, answer, headers)


def _check_export(check: RuleCheck, body: dict[str, Any], headers: dict[str, str]) -> None:
    def broke(rule: str, message: str) -> None:
        check.broke(rule, message, 400, _fatal(message), headers)

    external_ids = body.get("external_ids", [])
    aliases = body.get("user_aliases", [])
    if not isinstance(external_ids, list) or not all(isinstance(x, str) for x in external_ids):
        broke("braze.export.external_ids", "external_ids must be an array of strings")
        external_ids = []
    if not isinstance(aliases, list) or not all(
        isinstance(a, dict)
        and isinstance(a.get("alias_name"), str)
        and isinstance(a.get("alias_label"), str)
        for a in aliases
    ):
        broke("braze.export.user_aliases", "user_aliases must be {alias_name, alias_label} objects")
        aliases = []
    # "Up to 50 external_ids or user_aliases": counted together (the stricter reading).
    if len(external_ids) + len(aliases) > MAX_IDS:
        broke(
            "braze.export.max_ids",
            "The max number of external_ids and aliases per request was exceeded",
        )
    singles = [k for k in ("device_id", "email_address", "phone") if k in body]
    if len(singles) > 1:
        broke("braze.export.one_single", "only one of device_id, email_address or phone")
    if "phone" in body and not (isinstance(body["phone"], str) and E164.match(body["phone"])):
        broke("braze.export.phone", "phone must be in E.164 format")
    if not (external_ids or aliases or singles or "braze_id" in body):
        broke("braze.export.no_identifier", "name at least one user to export")
    fields = body.get("fields_to_export")
    # Required for workspaces onboarded on or after 2024-08-22 (the stricter case).
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        broke("braze.export.fields_to_export", "fields_to_export is a required array of strings")


def _unavailable() -> web.Response:
    return json_reply(503, _fatal("Service Unavailable"))


def _throttled(decision: Decision | None) -> web.Response:
    headers = (
        _rate_headers(decision)
        if decision
        else {
            "X-RateLimit-Limit": str(DELETE_LIMIT.requests),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + 60),
        }
    )
    return json_reply(429, _fatal("Rate Limited"), headers)


def _error_body(_: int, message: str, parts: list[str]) -> dict[str, Any]:
    return {"message": message, "errors": parts}


def _related(state: SandboxState, request: web.Request, body: Any) -> list[str]:
    """Every identifier of the users a delete or export body names."""
    del request
    if not isinstance(body, dict):
        return []
    out: list[str] = []
    for user in state.braze_users:
        if _named(user, body):
            out += [v for v in (user.external_id, user.braze_id, user.email, user.phone) if v]
            out += [name for name, _ in user.user_aliases]
    return out


def _named(user: BrazeUser, body: dict[str, Any]) -> bool:
    def entries(key: str) -> list[Any]:
        value = body.get(key)
        return value if isinstance(value, list) else []

    def contact(key: str, field: str) -> list[Any]:
        return [e.get(field) for e in entries(key) if isinstance(e, dict)]

    aliases = [
        (a.get("alias_name"), a.get("alias_label"))
        for a in entries("user_aliases")
        if isinstance(a, dict)
    ]
    return (
        (user.external_id is not None and user.external_id in entries("external_ids"))
        or user.braze_id in entries("braze_ids")
        or user.braze_id == body.get("braze_id")
        or (
            user.email is not None
            and user.email in [*contact("email_addresses", "email"), body.get("email_address")]
        )
        or (
            user.phone is not None
            and user.phone in [*contact("phone_numbers", "phone"), body.get("phone")]
        )
        or any(alias in user.user_aliases for alias in aliases)
    )


VENDOR = VendorSpec(
    name="braze",
    routes=[("POST", "/users/delete", delete_users), ("POST", "/users/export/ids", export_ids)],
    unavailable=_unavailable,
    throttled=_throttled,
    error=_error_body,
    related=_related,
)

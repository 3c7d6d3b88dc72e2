"""Insider: attribute delete, identity delete and the profile read.

Routes (below the Insider base URL, exactly the vendor's paths):

- ``POST   /api/user/v1/attribute/delete``  up to 1,000 users, 5 MB, 25,000/min per key
- ``DELETE /api/user/v1/identity``          one user, never its sole identifier
- ``POST   /api/user/v1/profile``           read one user's attributes

Every request needs ``X-PARTNER-NAME`` (lowercase) and ``X-REQUEST-TOKEN``.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from reconciler.sandbox.context import VendorSpec, context_of, entry_of
from reconciler.sandbox.ratelimit import Decision, Limit
from reconciler.sandbox.replies import RuleCheck, json_reply, read_json
from reconciler.sandbox.state import INSIDER_DEFAULT_IDENTIFIERS, InsiderUser, SandboxState

MAX_USERS = 1_000
# "The entire request must not exceed 5 MB": read as 5,000,000 bytes, the smaller of the
# decimal and binary readings (a client that packs 5 MiB would be refused by one of them).
MAX_BYTES = 5_000_000
# "shared with User Upsert API with a total of 25,000 requests per minute"
ATTRIBUTE_LIMIT = Limit(25_000, 60.0)
# Delete Identifiers: 25,000/min in the Postman text, 1,000/min on the rate-limits page
# (via a third-party summary). The sandbox applies the stricter 1,000/min.
IDENTITY_LIMIT = Limit(1_000, 60.0)
# Get User Profiles: "The quota is limited to 1000 units per minute"; each read costs
# one unit here (the real cost depends on the user base and event types).
PROFILE_LIMIT = Limit(1_000, 60.0)
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")

PARTNER_INVALID = {"success": False, "message": "Partner is invalid."}
ACCESS_DENIED = {
    "success": False,
    "message": "Access Denied. You do not have sufficient access to perform this action.",
}
TOO_MANY = {"error": "rejected: too many requests"}
UNKNOWN_ERROR = {
    "success": False,
    "message": "The request processing has failed because of an unknown error.",
}
SOLE_IDENTIFIER = {
    "error": "you cannot delete the sole identifier specified for a user: bad request"
}
NO_USER = {"error": "no such user for these identifiers: no data"}
IDENTIFIER_ATTRIBUTE = (
    "Attributes defined as identifiers cannot be deleted with this endpoint. "
    "To delete an identifier attribute, use the Delete Identifiers API."
)


def _bad(message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


async def _gate(request: web.Request, check: RuleCheck, bucket: str, limit: Limit) -> bool:
    """Headers, size and rate limit; False when the request is refused."""
    ctx = context_of(request)
    partner = request.headers.get("X-PARTNER-NAME", "")
    token = request.headers.get("X-REQUEST-TOKEN", "")
    if (
        not partner
        or partner != partner.lower()
        or not ctx.credentials.insider_partner_known(partner)
    ):
        # One body for every unknown partner: a missing, non-lowercase or (when partners
        # are pinned) unlisted X-PARTNER-NAME. A known partner with a wrong token is 403.
        check.broke(
            "insider.partner_name",
            "X-PARTNER-NAME is the lowercase name of a known partner",
            400,
            PARTNER_INVALID,
        )
        return False
    if not ctx.credentials.insider_ok(partner, token):
        check.broke(
            "insider.token",
            "X-REQUEST-TOKEN must be a valid token for the partner",
            403,
            ACCESS_DENIED,
        )
        return False
    if not ctx.limiter.hit(bucket, token, limit).allowed:
        check.broke(
            "insider.rate_limit",
            f"{bucket}: {limit.requests} requests per minute (before --rate-scale)",
            429,
            TOO_MANY,
        )
        return False
    if (request.content_length or 0) > MAX_BYTES or len(await request.read()) > MAX_BYTES:
        # The limit is documented, its answer is not: the sandbox uses the documented
        # 400 shape.
        check.broke(
            "insider.max_bytes",
            f"the request must not exceed 5 MB ({MAX_BYTES:,} bytes)",
            400,
            _bad("The entire request must not exceed 5 MB."),
        )
        return False
    return True


def _identifier_problems(identifiers: Any) -> list[str]:
    if not isinstance(identifiers, dict) or not identifiers:
        return ["identifiers must be a non-empty object"]
    problems = []
    for key, value in identifiers.items():
        if key == "custom":
            if (
                not isinstance(value, dict)
                or not value
                or not all(isinstance(v, str) and v for v in value.values())
            ):
                problems.append("identifiers.custom must map names to non-empty strings")
        elif key not in INSIDER_DEFAULT_IDENTIFIERS:
            problems.append(f"unknown identifier {key!r}; custom ones go under 'custom'")
        elif not isinstance(value, str) or not value:
            problems.append(f"identifiers.{key} must be a non-empty string")
        elif key == "phone_number" and not E164.match(value):
            problems.append("phone_number must be in E.164 format")
    return problems


UserIndex = dict[tuple[str, str], list[InsiderUser]]


def _index(users: list[InsiderUser]) -> UserIndex:
    """Users by each of their identifiers: a 1,000-user request must not scan every user
    once per user (that made large seeds answer slower than clients wait)."""
    index: UserIndex = {}
    for user in users:
        index.setdefault(("insider_id", user.insider_id), []).append(user)
        for key, value in user.identifiers.items():
            index.setdefault((key, str(value)), []).append(user)
        for key, value in user.custom_identifiers.items():
            index.setdefault((f"custom.{key}", str(value)), []).append(user)
    return index


def _find(
    users: list[InsiderUser], locator: dict[str, Any], index: UserIndex | None = None
) -> InsiderUser | None:
    if "insider_id" in locator:
        if index is not None:
            found = index.get(("insider_id", str(locator["insider_id"])), [])
            return found[0] if found else None
        return next((u for u in users if u.insider_id == locator["insider_id"]), None)
    identifiers = locator.get("identifiers") or {}
    candidates: list[InsiderUser] = users
    if index is not None and identifiers:
        key, value = next(iter(identifiers.items()))
        if key == "custom" and isinstance(value, dict) and value:
            name, custom_value = next(iter(value.items()))
            candidates = index.get((f"custom.{name}", str(custom_value)), [])
        elif key != "custom":
            candidates = index.get((key, str(value)), [])
    return next((u for u in candidates if u.matches(identifiers)), None)


async def delete_attributes(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    if not await _gate(request, check, "insider-upsert", ATTRIBUTE_LIMIT):
        return check.response
    ok, body = await read_json(request)
    users = body.get("users") if ok and isinstance(body, dict) else None
    if not isinstance(users, list) or not users:
        check.broke(
            "insider.attribute.users",
            "users is a non-empty array",
            400,
            _bad("users must be a non-empty array"),
        )
        return check.response
    if len(users) > MAX_USERS:
        check.broke(
            "insider.attribute.max_users",
            "at most 1,000 users per request",
            400,
            _bad("A single request can pass a maximum of 1,000 records (users)."),
        )
    custom_identifier_names = {n for u in ctx.state.insider_users for n in u.custom_identifiers}
    for i, user in enumerate(users):
        for rule, message in _attribute_user_problems(user, custom_identifier_names):
            check.broke(rule, f"users[{i}]: {message}", 400, _bad(f"users[{i}]: {message}"))
    if check.failed:
        return check.response
    index = _index(ctx.state.insider_users)
    for user in users:
        target = _find(ctx.state.insider_users, user, index)
        if target is not None:
            _delete_attributes(target.attributes, user.get("whole", []), user.get("partial", {}))
            custom = user.get("custom") or {}
            _delete_attributes(
                target.custom_attributes, custom.get("whole", []), custom.get("partial", {})
            )
    # The Academy page shows 200 {}; the Postman example shows
    # {"data":{"successful":{"count":1},"fail":{}}}. The sandbox answers {} (the vendor's
    # own page), so clients must not depend on the body.
    return json_reply(200, {})


def _attribute_user_problems(user: Any, custom_identifiers: set[str]) -> list[tuple[str, str]]:
    if not isinstance(user, dict):
        return [("insider.attribute.user", "each user is an object")]
    problems: list[tuple[str, str]] = []
    if "insider_id" in user:
        if not isinstance(user["insider_id"], str) or not user["insider_id"]:
            problems.append(("insider.attribute.locator", "insider_id must be a non-empty string"))
    elif "identifiers" in user:
        problems += [("insider.identifiers", p) for p in _identifier_problems(user["identifiers"])]
    else:
        problems.append(("insider.attribute.locator", "each user needs identifiers or insider_id"))
    custom = user.get("custom", {})
    if not isinstance(custom, dict):
        problems.append(("insider.attribute.shape", "custom must be {whole, partial}"))
        custom = {}
    groups = (
        (user.get("whole", []), user.get("partial", {}), set(INSIDER_DEFAULT_IDENTIFIERS)),
        (custom.get("whole", []), custom.get("partial", {}), custom_identifiers),
    )
    for whole, partial, identifier_names in groups:
        if not isinstance(whole, list) or not all(isinstance(a, str) for a in whole):
            problems.append(("insider.attribute.shape", "whole must be an array of names"))
            whole = []
        if not isinstance(partial, dict) or not all(isinstance(v, list) for v in partial.values()):
            problems.append(("insider.attribute.shape", "partial must map names to arrays"))
            partial = {}
        touched = set(whole) | set(partial)
        if touched & identifier_names:
            problems.append(("insider.attribute.identifier", IDENTIFIER_ATTRIBUTE))
    if not any(
        [user.get("whole"), user.get("partial"), custom.get("whole"), custom.get("partial")]
    ):
        problems.append(("insider.attribute.nothing", "name at least one attribute to delete"))
    return problems


def _delete_attributes(
    store: dict[str, Any], whole: list[str], partial: dict[str, list[Any]]
) -> None:
    for name in whole:
        store.pop(name, None)
    for name, values in partial.items():
        current = store.get(name)
        if isinstance(current, list):
            store[name] = [v for v in current if not any(same_json_value(v, x) for x in values)]


def same_json_value(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: the string "12" is not the number 12, and true is not 1
    (Python's == says True == 1); 12 and 12.0 are the same number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


async def delete_identity(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    if not await _gate(request, check, "insider-identity", IDENTITY_LIMIT):
        return check.response
    ok, body = await read_json(request)
    identifiers = body.get("identifiers") if ok and isinstance(body, dict) else None
    for problem in _identifier_problems(identifiers):
        check.broke("insider.identifiers", problem, 400, {"error": f"{problem}: bad request"})
    if check.failed:
        return check.response
    assert isinstance(identifiers, dict)
    flat = [(k, v) for k, v in identifiers.items() if k != "custom"]
    flat += [("custom", {n: v}) for n, v in (identifiers.get("custom") or {}).items()]
    if len(flat) != 1:
        check.broke(
            "insider.identity.one",
            "exactly one identifier (one user) per request",
            400,
            {"error": "exactly one identifier must be given: bad request"},
        )
        return check.response
    user = _find(ctx.state.insider_users, {"identifiers": identifiers})
    if user is None:
        # Not documented for this endpoint: the sandbox reuses the profile read's 404.
        check.broke("insider.identity.not_found", "no user has this identifier", 404, NO_USER)
        return check.response
    if user.identifier_count() <= 1:
        check.broke(
            "insider.identity.sole",
            "a user's sole identifier cannot be deleted",
            400,
            SOLE_IDENTIFIER,
        )
        return check.response
    key, value = flat[0]
    if key == "custom":
        for name in value:
            user.custom_identifiers.pop(name, None)
    else:
        user.identifiers.pop(key, None)
    return json_reply(200, {})


async def read_profile(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    if not await _gate(request, check, "insider-profile", PROFILE_LIMIT):
        return check.response
    ok, body = await read_json(request)
    if not ok or not isinstance(body, dict):
        check.broke(
            "insider.profile.json",
            "the body must be a JSON object",
            400,
            {"error": "invalid body: bad request"},
        )
        return check.response
    if "insider_id" not in body:
        for problem in _identifier_problems(body.get("identifiers")):
            check.broke("insider.identifiers", problem, 400, {"error": f"{problem}: bad request"})
    attributes = body.get("attributes")
    if not attributes and not body.get("events"):
        check.broke(
            "insider.profile.fields",
            "at least one of attributes or events",
            400,
            {"error": "at least one of attributes or events is required: bad request"},
        )
    if attributes is not None and not (
        isinstance(attributes, list) and all(isinstance(a, str) for a in attributes)
    ):
        check.broke(
            "insider.profile.fields",
            "attributes is an array of names",
            400,
            {"error": "attributes must be an array of names: bad request"},
        )
    if check.failed:
        return check.response
    user = _find(ctx.state.insider_users, body)
    if user is None:
        check.broke("insider.profile.not_found", "no user has these identifiers", 404, NO_USER)
        return check.response
    answer: dict[str, Any] = {"attributes": _profile_attributes(user, attributes or [])}
    answer["events"] = {}
    if body.get("quota"):
        answer["quota"] = {"cost": 1, "used": 1, "total": 1000}
    return json_reply(200, answer)


def _profile_attributes(user: InsiderUser, names: list[str]) -> dict[str, Any]:
    # Custom attributes carry the "c_" prefix of the page's example (its text says "_c__").
    every: dict[str, Any] = dict(user.attributes) | dict(user.identifiers)
    every |= {f"c_{k}": v for k, v in (user.custom_attributes | user.custom_identifiers).items()}
    picked = {n: every[n] for n in names if n in every}
    picked["iid"] = user.insider_id
    return picked


def _unavailable() -> web.Response:
    return json_reply(503, UNKNOWN_ERROR | {"message": "Service Unavailable"})


def _throttled(_: Decision | None) -> web.Response:
    return json_reply(429, TOO_MANY)


def _error_body(_: int, message: str, __: list[str]) -> dict[str, Any]:
    return _bad(message)


def _related(state: SandboxState, request: web.Request, body: Any) -> list[str]:
    """Every identifier of the users a body locates (its ``users`` or the body itself)."""
    del request
    if not isinstance(body, dict):
        return []
    users = body.get("users")
    locators = [u for u in users if isinstance(u, dict)] if isinstance(users, list) else [body]
    out: list[str] = []
    for locator in locators:
        identifiers = locator.get("identifiers")
        if "insider_id" not in locator and not (isinstance(identifiers, dict) and identifiers):
            continue
        if identifiers is not None and not isinstance(identifiers, dict):
            continue
        user = _find(state.insider_users, locator)
        if user is not None:
            out += [user.insider_id, *user.identifiers.values(), *user.custom_identifiers.values()]
    return out


VENDOR = VendorSpec(
    name="insider",
    routes=[
        ("POST", "/api/user/v1/attribute/delete", delete_attributes),
        ("DELETE", "/api/user/v1/identity", delete_identity),
        ("POST", "/api/user/v1/profile", read_profile),
    ],
    unavailable=_unavailable,
    throttled=_throttled,
    error=_error_body,
    related=_related,
)

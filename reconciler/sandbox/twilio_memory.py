"""Twilio Conversation Memory: profile identifiers (remove, list, fetch).

Routes (below the Twilio base URL, exactly the paths of ``twilio_memory_v1.openapi.json``):

- ``DELETE /v1/Stores/{storeId}/Profiles/{profileId}/Identifiers/{idType}[?removeAll=true]``
  answers 202 and applies the removal after ``twilio_removal_delay`` seconds (asynchronous,
  as documented); without ``removeAll`` one value goes, picked by the idType's
  ``limitPolicy`` (fifo: the oldest, lifo: the newest).
- ``GET /v1/Stores/{storeId}/Profiles/{profileId}/Identifiers`` and ``.../{idType}``.
- ``GET /v1/Stores/{storeId}/Profiles/{profileId}[?traitGroups=a,b]``: the profile read.
- ``GET /v1/ControlPlane/Stores/{storeId}`` and ``.../IdentityResolutionSettings``.

A DELETE or GET of an idType the store is not configured for (idTypes are
case-sensitive) answers the same 404 (20404) as one the profile holds no value of.
A profile seeded with ``merged_into`` answers 308 on DELETE and 301 on GET with
``Location`` and ``Canonical-Profile-Id`` pointing at the canonical profile.
Errors use Twilio's envelope ``{code, message, more_info, status}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from reconciler.sandbox.context import VendorSpec, context_of, entry_of
from reconciler.sandbox.credentials import parse_basic
from reconciler.sandbox.ratelimit import Decision
from reconciler.sandbox.replies import RuleCheck, json_reply
from reconciler.sandbox.state import (
    TWILIO_ID_TYPE,
    TWILIO_PROFILE_ID,
    TWILIO_STORE_ID,
    SandboxState,
    TwilioProfile,
    TwilioRemoval,
    TwilioStore,
)

MOVED = "This resource has moved."
ACCEPTED = "Identifier removal accepted."


def error_body(status: int, code: int, message: str) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/api/errors/{code}",
        "status": status,
    }


def _error(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return json_reply(status, error_body(status, code, message), headers)


def _bad_parameter(check: RuleCheck, rule: str, explanation: str, message: str) -> None:
    """Record a path or query parameter the spec refuses: 400 (code 400)."""
    check.broke(rule, explanation, 400, error_body(400, 400, message))


def _check_store_id(check: RuleCheck, store_id: str) -> None:
    if not TWILIO_STORE_ID.match(store_id):
        _bad_parameter(
            check,
            "twilio_memory.store_id",
            f"storeId matches {TWILIO_STORE_ID.pattern}",
            f"Invalid storeId: {store_id[:64]}",
        )


def _authorized(request: web.Request, check: RuleCheck) -> bool:
    """Basic auth with an Account SID (or API key) and secret; records a 401 if not."""
    creds = parse_basic(request.headers.get("Authorization"))
    if creds is not None and context_of(request).credentials.twilio_ok(*creds):
        return True
    check.broke(
        "twilio_memory.auth",
        "Basic auth with an Account SID (or API key) and secret",
        401,
        error_body(
            401, 20003, "Failed to complete request due to lack of authentication credentials"
        ),
    )
    return False


def _resolve(
    request: web.Request, check: RuleCheck
) -> tuple[TwilioStore, TwilioProfile] | web.Response | None:
    """Auth, path checks, store and profile lookup; a redirect for a merged profile."""
    ctx = context_of(request)
    if not _authorized(request, check):
        return None
    store_id = request.match_info["storeId"]
    profile_id = request.match_info["profileId"]
    id_type = request.match_info.get("idType")
    _check_store_id(check, store_id)
    if not TWILIO_PROFILE_ID.match(profile_id):
        _bad_parameter(
            check,
            "twilio_memory.profile_id",
            "profileId matches ^mem_profile_[0-7][0-9a-z]{25}$",
            f"Invalid profileId: {profile_id[:64]}",
        )
    if id_type is not None and not TWILIO_ID_TYPE.match(id_type):
        _bad_parameter(
            check,
            "twilio_memory.id_type",
            "idType is 2..30 letters, digits, '-' or '_'",
            f"Invalid idType: {id_type[:64]}",
        )
    if check.failed:
        return None
    ctx.state.settle_twilio(ctx.clock())
    store = ctx.state.twilio_stores.get(store_id)
    profile = store.profiles.get(profile_id) if store else None
    if store is None or profile is None:
        check.broke(
            "twilio_memory.not_found",
            "the store and profile must exist",
            404,
            error_body(404, 20404, "Not Found"),
        )
        return None
    if profile.merged_into:
        return _moved(request, store, profile)
    return store, profile


def _moved(request: web.Request, store: TwilioStore, profile: TwilioProfile) -> web.Response:
    canonical = profile
    seen = {profile.profile_id}
    while canonical.merged_into and canonical.merged_into in store.profiles:
        canonical = store.profiles[canonical.merged_into]
        if canonical.profile_id in seen:
            break
        seen.add(canonical.profile_id)
    vendor_path = request.path.removeprefix("/twilio_memory")
    new_path = vendor_path.replace(
        f"/Profiles/{profile.profile_id}", f"/Profiles/{canonical.profile_id}", 1
    )
    location = str(request.url.with_path("/twilio_memory" + new_path).with_query(request.query))
    status = 301 if request.method == "GET" else 308
    return json_reply(
        status,
        {"message": MOVED, "uri": location},
        {"Location": location, "Canonical-Profile-Id": canonical.profile_id},
    )


def _found(
    check: RuleCheck, resolved: tuple[TwilioStore, TwilioProfile] | web.Response | None
) -> tuple[TwilioStore, TwilioProfile] | web.Response:
    """The store and profile, or the answer to send instead (a broken rule, a redirect)."""
    if check.failed or resolved is None:
        return check.response
    return resolved


async def remove_identifier(request: web.Request) -> web.Response:
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    raw_remove_all = request.query.get("removeAll", "false")
    resolved = _resolve(request, check)
    if raw_remove_all not in ("true", "false"):
        _bad_parameter(
            check,
            "twilio_memory.remove_all",
            "removeAll is a boolean (true or false)",
            "Invalid value for removeAll: expected true or false",
        )
    found = _found(check, resolved)
    if isinstance(found, web.Response):
        return found
    store, profile = found
    id_type = request.match_info["idType"]
    if _identifier_missing(check, store, profile, id_type):
        return check.response
    ctx.state.twilio_pending.append(
        TwilioRemoval(
            due=ctx.clock() + ctx.options.twilio_removal_delay,
            store_id=store.store_id,
            profile_id=profile.profile_id,
            id_type=id_type,
            remove_all=raw_remove_all == "true",
        )
    )
    return json_reply(202, {"message": ACCEPTED})


async def list_identifiers(request: web.Request) -> web.Response:
    check = RuleCheck(entry_of(request))
    resolved = _resolve(request, check)
    found = _found(check, resolved)
    if isinstance(found, web.Response):
        return found
    _, profile = found
    sets = [{"idType": t, "values": list(v)} for t, v in profile.identifiers.items() if v]
    return json_reply(200, {"identifiers": sets})


async def fetch_identifier(request: web.Request) -> web.Response:
    check = RuleCheck(entry_of(request))
    resolved = _resolve(request, check)
    found = _found(check, resolved)
    if isinstance(found, web.Response):
        return found
    store, profile = found
    id_type = request.match_info["idType"]
    if _identifier_missing(check, store, profile, id_type):
        return check.response
    return json_reply(200, {"idType": id_type, "values": list(profile.identifiers[id_type])})


def _identifier_missing(
    check: RuleCheck, store: TwilioStore, profile: TwilioProfile, id_type: str
) -> bool:
    """True (and the 404 recorded) when the idType is not configured for the store or the
    profile holds no value of it. Both answer the same undocumented 404 (20404): a 404
    alone proves neither that the value is gone nor that the idType was spelt right
    (idTypes are case-sensitive); the profile read and the store's identity resolution
    settings tell the two apart."""
    if store.config(id_type) is None:
        check.broke(
            "twilio_memory.id_type_not_configured",
            "the store has no identifier config for this idType (case-sensitive)",
            404,
            error_body(404, 20404, "Not Found"),
        )
        return True
    if not profile.identifiers.get(id_type):
        check.broke(
            "twilio_memory.identifier_not_found",
            "the profile holds no value of this idType",
            404,
            error_body(404, 20404, "Not Found"),
        )
        return True
    return False


async def fetch_profile(request: web.Request) -> web.Response:
    """`GET /v1/Stores/{storeId}/Profiles/{profileId}`: the profile (schema `Profile`),
    its traits restricted to the `traitGroups` allow list when one is given."""
    check = RuleCheck(entry_of(request))
    groups = request.query.get("traitGroups")
    resolved = _resolve(request, check)
    if groups is not None and not 1 <= len(groups) <= 256:
        _bad_parameter(
            check,
            "twilio_memory.trait_groups",
            "traitGroups is 1..256 characters",
            "Invalid value for traitGroups",
        )
    found = _found(check, resolved)
    if isinstance(found, web.Response):
        return found
    _, profile = found
    traits = profile.traits
    if groups is not None:
        wanted = set(groups.split(","))
        traits = {name: group for name, group in traits.items() if name in wanted}
    body = {"id": profile.profile_id, "createdAt": profile.created_at, "traits": traits}
    return json_reply(200, body)


async def fetch_identity_resolution_settings(request: web.Request) -> web.Response:
    """`GET /v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings`: the store's
    identifier configs (schema `IdentityResolutionSettings`), with an `ETag`."""
    store = _control_plane_store(request)
    if isinstance(store, web.Response):
        return store
    settings = store.settings()
    etag = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:27]
    return json_reply(200, settings, {"ETag": f'"{etag}"'})


def _control_plane_store(request: web.Request) -> TwilioStore | web.Response:
    """Auth, the storeId pattern and the store, or the answer to send instead."""
    ctx = context_of(request)
    check = RuleCheck(entry_of(request))
    if not _authorized(request, check):
        return check.response
    store_id = request.match_info["storeId"]
    _check_store_id(check, store_id)
    if check.failed:
        return check.response
    store = ctx.state.twilio_stores.get(store_id)
    if store is None:
        check.broke(
            "twilio_memory.store_not_found",
            "the store must exist",
            404,
            error_body(404, 20404, "Not Found"),
        )
        return check.response
    return store


async def fetch_store(request: web.Request) -> web.Response:
    """`GET /v1/ControlPlane/Stores/{storeId}`: the store's details (schema `Store`)."""
    store = _control_plane_store(request)
    if isinstance(store, web.Response):
        return store
    return json_reply(
        200,
        {
            "id": store.store_id,
            "displayName": "sandbox",
            "status": "ACTIVE",
            "version": 1,
            "intelligenceServiceId": "GA00000000000000000000000000000000",
        },
    )


def _unavailable() -> web.Response:
    return _error(503, 20503, "Service Unavailable")


def _throttled(decision: Decision | None) -> web.Response:
    retry_after = str(decision.retry_after) if decision else "1"
    return _error(
        429,
        20429,
        "Too many requests. Please retry according to the Retry-After response header.",
        {"Retry-After": retry_after},
    )


_ERROR_CODES = {401: 20003, 404: 20404, 409: 20409, 429: 20429, 500: 20500, 503: 20503}


def _error_body(status: int, message: str, _: list[str]) -> dict[str, object]:
    return error_body(status, _ERROR_CODES.get(status, status), message)


def _related(state: SandboxState, request: web.Request, _: Any) -> list[str]:
    """Every identifier value of the profile the path names (and of its canonical one)."""
    store = state.twilio_stores.get(request.match_info.get("storeId", ""))
    profile = store.profiles.get(request.match_info.get("profileId", "")) if store else None
    out: list[str] = []
    seen: set[str] = set()
    while store is not None and profile is not None and profile.profile_id not in seen:
        seen.add(profile.profile_id)
        out += [v for values in profile.identifiers.values() for v in values]
        profile = store.profiles.get(profile.merged_into or "")
    return out


_IDENTIFIERS = "/v1/Stores/{storeId}/Profiles/{profileId}/Identifiers"
VENDOR = VendorSpec(
    name="twilio_memory",
    routes=[
        ("DELETE", _IDENTIFIERS + "/{idType}", remove_identifier),
        ("GET", _IDENTIFIERS + "/{idType}", fetch_identifier),
        ("GET", _IDENTIFIERS, list_identifiers),
        ("GET", "/v1/Stores/{storeId}/Profiles/{profileId}", fetch_profile),
        ("GET", "/v1/ControlPlane/Stores/{storeId}", fetch_store),
        (
            "GET",
            "/v1/ControlPlane/Stores/{storeId}/IdentityResolutionSettings",
            fetch_identity_resolution_settings,
        ),
    ],
    unavailable=_unavailable,
    throttled=_throttled,
    error=_error_body,
    related=_related,
)

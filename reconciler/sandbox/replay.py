"""Reintroducing data into the sandbox state, as an event replay would.

Payloads (the body of ``POST /_sandbox/reintroduce``), one per vendor::

    {"vendor": "segment", "space_id": "spa_demo", "user_id": "u_1001",
     "type": "email", "id": "jane@old-domain.example"}
    {"vendor": "braze", "user": {"external_id": "ext_1", "email": "a@b.example"}}
    {"vendor": "twilio_memory", "store_id": "mem_store_...", "profile_id": "mem_profile_...",
     "id_type": "email", "value": "a@b.example"}
    {"vendor": "insider", "locator": {"email": "a@b.example"},        # or {"insider_id": ...}
     "identifier": {"type": "phone_number", "value": "+15555550100"}}
    (a custom identifier is named "custom.<name>", e.g. "type": "custom.loyalty_id")
    {"vendor": "insider", "locator": {...}, "attribute": {"name": "name", "value": "Jane"}}
    {"vendor": "insider", "locator": {...}, "custom_attribute": {"name": "tier", "value": "gold"}}

A Segment profile or Twilio profile that does not exist yet is created (a new Twilio
store is configured for the idType given); a Twilio idType the store is not configured
for is refused, as Memory promotes configured idTypes only. An Insider user that does
not exist is created when an identifier is reintroduced.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.seed import SeedError, seed_braze_user
from reconciler.sandbox.state import (
    InsiderUser,
    SandboxState,
    SegmentExternalId,
    SegmentProfile,
    SegmentSpace,
    TwilioIdentifierConfig,
    TwilioProfile,
    TwilioStore,
    stable_id,
)


def reintroduce(state: SandboxState, payload: dict[str, Any]) -> None:
    """Put one identifier (or user, or attribute) back into ``state``."""
    vendor = payload.get("vendor")
    try:
        if vendor == "segment":
            _segment(state, payload)
        elif vendor == "braze":
            index = f"replay-{len(state.braze_users)}"
            state.braze_users.append(seed_braze_user(payload["user"], index, ("user",)))
        elif vendor == "twilio_memory":
            _twilio(state, payload)
        elif vendor == "insider":
            _insider(state, payload)
        else:
            raise SeedError(f"unknown vendor {vendor!r}")
    except (KeyError, TypeError, AttributeError) as exc:
        raise SeedError(f"malformed {vendor} payload: missing or wrong {exc}") from exc


def _segment(state: SandboxState, payload: dict[str, Any]) -> None:
    space_id = str(payload["space_id"])
    space = state.segment_spaces.setdefault(space_id, SegmentSpace(space_id))
    user_id = str(payload["user_id"])
    profile = space.find("user_id", user_id)
    if profile is None:
        profile = SegmentProfile(
            stable_id("use_", space_id, user_id), [SegmentExternalId("user_id", user_id)]
        )
        space.profiles.append(profile)
    id_type, value = str(payload["type"]), str(payload["id"])
    if not profile.has(id_type, value):
        profile.external_ids.append(SegmentExternalId(id_type, value))
    space.forget()


def _twilio(state: SandboxState, payload: dict[str, Any]) -> None:
    store_id, id_type = str(payload["store_id"]), str(payload["id_type"])
    store = state.twilio_stores.get(store_id)
    if store is None:
        store = TwilioStore(store_id, [TwilioIdentifierConfig(id_type)])
        state.twilio_stores[store_id] = store
    elif store.config(id_type) is None:
        # Memory promotes values of configured idTypes only (case-sensitive).
        raise SeedError(
            f"store {store_id} has no identifier config for idType {id_type!r} "
            "(idTypes are case-sensitive)"
        )
    profile_id = str(payload["profile_id"])
    profile = store.profiles.setdefault(profile_id, TwilioProfile(profile_id))
    values = profile.identifiers.setdefault(id_type, [])
    if str(payload["value"]) not in values:
        values.append(str(payload["value"]))


def _insider(state: SandboxState, payload: dict[str, Any]) -> None:
    locator = dict(payload.get("locator") or {})
    if "insider_id" in locator:
        user = next((u for u in state.insider_users if u.insider_id == locator["insider_id"]), None)
    else:
        user = next((u for u in state.insider_users if locator and u.matches(locator)), None)
    if user is None:
        if "identifier" not in payload:
            raise SeedError("no insider user matches the locator")
        user = InsiderUser(str(locator.get("insider_id") or stable_id("iid_", locator, payload)))
        state.insider_users.append(user)
    if "identifier" in payload:
        id_type, value = str(payload["identifier"]["type"]), str(payload["identifier"]["value"])
        if id_type.startswith("custom."):
            user.custom_identifiers[id_type.removeprefix("custom.")] = value
        else:
            user.identifiers[id_type] = value
    for key, store in (
        ("attribute", user.attributes),
        ("custom_attribute", user.custom_attributes),
    ):
        if key in payload:
            name, value = str(payload[key]["name"]), payload[key]["value"]
            current = store.get(name)
            if isinstance(current, list) and not isinstance(value, list):
                if value not in current:
                    current.append(value)
            else:
                store[name] = value

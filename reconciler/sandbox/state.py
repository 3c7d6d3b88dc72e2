"""The sandbox's vendor data: what each emulated vendor holds, and how it changes.

Built from a seed by ``seed.py`` (the format is described there and in the README);
``SandboxState.snapshot`` gives it back in the same shape.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

VENDORS = ("segment", "braze", "twilio_memory", "insider")
INSIDER_DEFAULT_IDENTIFIERS = ("email", "phone_number", "uuid")


def stable_id(prefix: str, *parts: object, length: int = 24) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return prefix + digest[:length]


# --- Segment ------------------------------------------------------------------------


@dataclass
class SegmentExternalId:
    type: str
    id: str
    created_at: str = "2026-01-01T00:00:00.000000Z"
    source_id: str = "sandbox_src"
    first_message_id: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "source_id": self.source_id,
            "collection": "users",
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at,
            "encoding": "none",
            "first_message_id": self.first_message_id or stable_id("msg-", self.type, self.id),
        }


@dataclass
class SegmentProfile:
    segment_id: str
    external_ids: list[SegmentExternalId]

    def has(self, id_type: str, value: str) -> bool:
        # the Profile API also finds a profile by its own id: segment_id:<id>
        if id_type == "segment_id":
            return value == self.segment_id
        return any(e.type == id_type and e.id == value for e in self.external_ids)


@dataclass
class SegmentSpace:
    space_id: str
    delete_enabled: bool = True
    source_attached: bool = True
    profiles: list[SegmentProfile] = field(default_factory=list)
    # (type, value) -> the first profile holding it, built on first use: a space of
    # 100,000 profiles answers at the vendor's rate. An entry is checked before use
    # (identifiers are removed), a miss scans, and adding an identifier (replay.py)
    # forgets the index, so the answer is always the scan's.
    _found: dict[tuple[str, str], SegmentProfile] = field(
        default_factory=dict, repr=False, compare=False
    )

    def find(self, id_type: str, value: str) -> SegmentProfile | None:
        if not self._found:
            for profile in self.profiles:
                for e in profile.external_ids:
                    self._found.setdefault((e.type, e.id), profile)
        key = (id_type, value)
        hit = self._found.get(key)
        if hit is not None and hit.has(id_type, value):
            return hit
        for profile in self.profiles:
            if profile.has(id_type, value):
                self._found[key] = profile
                return profile
        self._found.pop(key, None)
        return None

    def forget(self) -> None:
        """An identifier was added somewhere: the index may no longer be the scan's."""
        self._found.clear()


# --- Braze --------------------------------------------------------------------------


@dataclass
class BrazeUser:
    braze_id: str
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    user_aliases: list[tuple[str, str]] = field(default_factory=list)
    updated_at: str = "2026-01-01T00:00:00Z"
    attributes: dict[str, Any] = field(default_factory=dict)
    # Set when /users/delete queues the user: the user stays (exports still find it) until
    # this time (epoch seconds) has passed, then it is gone.
    deletion_due: float | None = None

    @property
    def queued(self) -> bool:
        return self.deletion_due is not None

    def seed_shape(self) -> dict[str, Any]:
        """The user as a seed entry (a snapshot re-seeds the same user)."""
        entry: dict[str, Any] = {
            "external_id": self.external_id,
            "braze_id": self.braze_id,
            "email": self.email,
            "phone": self.phone,
        }
        entry = {k: v for k, v in entry.items() if v is not None}
        if self.user_aliases:
            entry["user_aliases"] = [
                {"alias_name": n, "alias_label": label} for n, label in self.user_aliases
            ]
        entry["updated_at"] = self.updated_at
        if self.attributes:
            entry["attributes"] = copy.deepcopy(self.attributes)
        return entry

    def export(self, fields: list[str] | None) -> dict[str, Any]:
        full: dict[str, Any] = {
            "external_id": self.external_id,
            "braze_id": self.braze_id,
            "email": self.email,
            "phone": self.phone,
            "user_aliases": [
                {"alias_name": n, "alias_label": label} for n, label in self.user_aliases
            ],
            **self.attributes,
        }
        full = {k: v for k, v in full.items() if v is not None}
        if fields is None:
            return full
        return {k: v for k, v in full.items() if k in fields}


# --- Twilio Memory ------------------------------------------------------------------


@dataclass
class TwilioProfile:
    profile_id: str
    identifiers: dict[str, list[str]] = field(default_factory=dict)
    merged_into: str | None = None
    traits: dict[str, dict[str, Any]] = field(default_factory=dict)  # trait group -> traits
    created_at: str = "2026-01-01T00:00:00Z"

    def seed_shape(self) -> dict[str, Any]:
        if self.merged_into:
            return {"merged_into": self.merged_into}
        shape: dict[str, Any] = {
            "identifiers": copy.deepcopy(self.identifiers),
            "created_at": self.created_at,
        }
        if self.traits:
            shape["traits"] = copy.deepcopy(self.traits)
        return shape


# Path parameter patterns of twilio_memory_v1.openapi.json. The spec only bounds idType
# to 2..30 characters; the limits page adds "alphanumeric, hyphens, and underscores". The
# sandbox enforces both (the stricter rule).
TWILIO_STORE_ID = re.compile(r"^mem_(store|service)_[0-7][0-9a-z]{25}$")
TWILIO_PROFILE_ID = re.compile(r"^mem_profile_[0-7][0-9a-z]{25}$")
TWILIO_ID_TYPE = re.compile(r"^[A-Za-z0-9_-]{2,30}$")
TWILIO_MAX_ID_TYPES = 15  # "Up to 15 identifier configs"
# The spec's example settings normalize these idTypes their own way; others are trimmed.
TWILIO_NORMALIZATION = {"email": "email", "phone": "phone"}


@dataclass
class TwilioIdentifierConfig:
    """One entry of a store's identity resolution settings (schema ``IdentifierConfig``)."""

    id_type: str
    matching_algo: str = "exact"
    matching_threshold: int | None = None
    limit: int = 100
    limit_policy: str = "fifo"
    enforce_unique: bool = True
    normalization: str = ""

    def __post_init__(self) -> None:
        if not self.normalization:
            self.normalization = TWILIO_NORMALIZATION.get(self.id_type, "trim")

    def as_dict(self) -> dict[str, Any]:
        """The config with the spec's field names (the seed uses the same names)."""
        out: dict[str, Any] = {"idType": self.id_type, "matchingAlgo": self.matching_algo}
        if self.matching_threshold is not None:
            out["matchingThreshold"] = self.matching_threshold
        out |= {
            "limit": self.limit,
            "limitPolicy": self.limit_policy,
            "enforceUnique": self.enforce_unique,
            "normalization": self.normalization,
        }
        return out


@dataclass
class TwilioStore:
    store_id: str
    # The idTypes the store is configured for (case-sensitive), in order; a profile holds
    # values of these types only.
    identifier_configs: list[TwilioIdentifierConfig] = field(default_factory=list)
    profiles: dict[str, TwilioProfile] = field(default_factory=dict)

    def config(self, id_type: str) -> TwilioIdentifierConfig | None:
        return next((c for c in self.identifier_configs if c.id_type == id_type), None)

    def settings(self) -> dict[str, Any]:
        """The store's identity resolution settings (schema ``IdentityResolutionSettings``)."""
        return {
            "identifierConfigs": [c.as_dict() for c in self.identifier_configs],
            "matchingRules": [c.id_type for c in self.identifier_configs],
            "version": 1,
        }


@dataclass(frozen=True)
class TwilioRemoval:
    """An accepted DELETE, applied once ``due`` (epoch seconds) has passed."""

    due: float
    store_id: str
    profile_id: str
    id_type: str
    remove_all: bool


# --- Insider ------------------------------------------------------------------------


@dataclass
class InsiderUser:
    insider_id: str
    identifiers: dict[str, str] = field(default_factory=dict)
    custom_identifiers: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    custom_attributes: dict[str, Any] = field(default_factory=dict)

    def identifier_count(self) -> int:
        return len(self.identifiers) + len(self.custom_identifiers)

    def matches(self, identifiers: dict[str, Any]) -> bool:
        """True when every identifier given (defaults and custom) belongs to this user."""
        for key, value in identifiers.items():
            if key == "custom":
                if not isinstance(value, dict) or not value:
                    return False
                if any(self.custom_identifiers.get(k) != v for k, v in value.items()):
                    return False
            elif self.identifiers.get(key) != value:
                return False
        return True


# --- the whole state ----------------------------------------------------------------


@dataclass
class SandboxState:
    """Everything the four emulated vendors hold."""

    segment_spaces: dict[str, SegmentSpace] = field(default_factory=dict)
    braze_users: list[BrazeUser] = field(default_factory=list)
    twilio_stores: dict[str, TwilioStore] = field(default_factory=dict)
    twilio_pending: list[TwilioRemoval] = field(default_factory=list)
    insider_users: list[InsiderUser] = field(default_factory=list)

    def settle(self, now: float) -> int:
        """Apply every queued Braze deletion and accepted Twilio removal due by ``now``;
        returns how many were applied."""
        return self.settle_braze(now) + self.settle_twilio(now)

    def braze_queued(self) -> list[BrazeUser]:
        return [u for u in self.braze_users if u.queued]

    def settle_braze(self, now: float) -> int:
        """Remove every Braze user whose queued deletion is due."""
        due = [u for u in self.braze_users if u.deletion_due is not None and u.deletion_due <= now]
        if due:
            self.braze_users = [u for u in self.braze_users if not any(u is d for d in due)]
        return len(due)

    def settle_twilio(self, now: float) -> int:
        """Apply every accepted Twilio removal whose delay has passed."""
        if not self.twilio_pending:
            return 0
        due = [r for r in self.twilio_pending if r.due <= now]
        if not due:
            return 0
        self.twilio_pending = [r for r in self.twilio_pending if r.due > now]
        for removal in sorted(due, key=lambda r: r.due):
            store = self.twilio_stores.get(removal.store_id)
            profile = store.profiles.get(removal.profile_id) if store else None
            if store is None or profile is None:
                continue
            values = profile.identifiers.get(removal.id_type, [])
            if removal.remove_all or len(values) <= 1:
                profile.identifiers.pop(removal.id_type, None)
            elif (config := store.config(removal.id_type)) and config.limit_policy == "lifo":
                values.pop()  # lifo: the newest value goes first
            else:
                values.pop(0)  # fifo: the oldest value goes first
        return len(due)

    def pending(self) -> dict[str, Any]:
        """What is accepted but not applied yet (not part of the seed-shaped snapshot)."""
        return {
            "braze": [
                {"braze_id": u.braze_id, "external_id": u.external_id, "due": u.deletion_due}
                for u in self.braze_users
                if u.queued
            ],
            "twilio_memory": [
                {
                    "store_id": r.store_id,
                    "profile_id": r.profile_id,
                    "id_type": r.id_type,
                    "remove_all": r.remove_all,
                    "due": r.due,
                }
                for r in self.twilio_pending
            ],
        }

    def snapshot(self) -> dict[str, Any]:
        """The state as seed-shaped data (a saved snapshot re-seeds the same state)."""
        return {
            "segment": {
                "spaces": {
                    sid: {
                        "delete_enabled": s.delete_enabled,
                        "source_attached": s.source_attached,
                        "profiles": [
                            {
                                "segment_id": p.segment_id,
                                "external_ids": [
                                    {"type": e.type, "id": e.id} for e in p.external_ids
                                ],
                            }
                            for p in s.profiles
                        ],
                    }
                    for sid, s in self.segment_spaces.items()
                }
            },
            "braze": {"users": [u.seed_shape() for u in self.braze_users]},
            "twilio_memory": {
                "stores": {
                    sid: {
                        "identifier_configs": [c.as_dict() for c in s.identifier_configs],
                        "profiles": {pid: p.seed_shape() for pid, p in s.profiles.items()},
                    }
                    for sid, s in self.twilio_stores.items()
                }
            },
            "insider": {
                "users": [
                    {
                        "insider_id": u.insider_id,
                        "identifiers": dict(u.identifiers)
                        | ({"custom": dict(u.custom_identifiers)} if u.custom_identifiers else {}),
                        "attributes": copy.deepcopy(u.attributes),
                        "custom_attributes": copy.deepcopy(u.custom_attributes),
                    }
                    for u in self.insider_users
                ]
            },
        }

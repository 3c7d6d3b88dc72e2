"""The sandbox's vendor data, seeded from a YAML or JSON file.

Seed file format (every section optional; see ``example_seed.yaml``)::

    segment:
      spaces:
        spa_demo:                          # the space id used in URLs
          delete_enabled: true             # false: deletes get 403 forbidden
          source_attached: true            # false: deletes get 404 source_id_not_found
          profiles:
            - segment_id: use_jane         # optional, generated when left out
              external_ids:                # "type: id" pairs, oldest first
                - {type: user_id, id: u_1001}
                - {type: email, id: jane@old-domain.example}
    braze:
      users:
        - external_id: ext_1001            # every field optional
          braze_id: 65f0c0ffee0000000000a001   # generated when left out
          email: jane@old-domain.example
          phone: "+15555550100"
          user_aliases: [{alias_name: jane, alias_label: crm}]
          updated_at: "2026-01-01T00:00:00Z"   # used by most_recently_updated
          attributes: {first_name: Jane}
    twilio_memory:
      stores:
        mem_store_0aaaaaaaaaaaaaaaaaaaaaaaaa:
          limit_policy: {email: fifo}      # per idType, fifo (default) or lifo
          profiles:
            mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa:
              identifiers: {email: [a@example.com, b@example.com], phone: ["+15555550100"]}
            mem_profile_0bbbbbbbbbbbbbbbbbbbbbbbbb:
              merged_into: mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa   # answers 301/308
    insider:
      users:
        - insider_id: iid_jane             # generated when left out
          identifiers: {email: jane@old-domain.example, phone_number: "+15555550100",
                        uuid: u-1, custom: {loyalty_id: L-1}}
          attributes: {name: Jane, list_id: [1, 2]}
          custom_attributes: {tier: gold, interests: [golf, tennis]}

Identifier values are stored as given (no normalisation), and lists keep their order,
which is the chronological order the vendors' reads report.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

VENDORS = ("segment", "braze", "twilio_memory", "insider")
INSIDER_DEFAULT_IDENTIFIERS = ("email", "phone_number", "uuid")


class SeedError(ValueError):
    """The seed file does not have the documented shape."""


def _stable_id(prefix: str, *parts: object, length: int = 24) -> str:
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
            "first_message_id": self.first_message_id or _stable_id("msg-", self.type, self.id),
        }


@dataclass
class SegmentProfile:
    segment_id: str
    external_ids: list[SegmentExternalId]

    def has(self, id_type: str, value: str) -> bool:
        return any(e.type == id_type and e.id == value for e in self.external_ids)


@dataclass
class SegmentSpace:
    space_id: str
    delete_enabled: bool = True
    source_attached: bool = True
    profiles: list[SegmentProfile] = field(default_factory=list)

    def find(self, id_type: str, value: str) -> SegmentProfile | None:
        for profile in self.profiles:
            if profile.has(id_type, value):
                return profile
        return None


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


@dataclass
class TwilioStore:
    store_id: str
    limit_policy: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, TwilioProfile] = field(default_factory=dict)


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

    @classmethod
    def from_seed(cls, seed: dict[str, Any]) -> SandboxState:
        """Build the state from parsed seed data (see the module docstring)."""
        if not isinstance(seed, dict):
            raise SeedError("the seed must be a mapping with vendor sections")
        unknown = set(seed) - set(VENDORS)
        if unknown:
            raise SeedError(f"unknown seed sections {sorted(unknown)}; expected {list(VENDORS)}")
        seed = copy.deepcopy(seed)
        state = cls()
        state.segment_spaces = _seed_segment(_section(seed, "segment"))
        state.braze_users = [
            _seed_braze_user(u, i) for i, u in enumerate(_section(seed, "braze").get("users", []))
        ]
        state.twilio_stores = _seed_twilio(_section(seed, "twilio_memory"))
        state.insider_users = [
            _seed_insider_user(u, i)
            for i, u in enumerate(_section(seed, "insider").get("users", []))
        ]
        return state

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
            elif store.limit_policy.get(removal.id_type, "fifo") == "lifo":
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
            "braze": {
                "users": [
                    {k: v for k, v in u.export(None).items()} | {"updated_at": u.updated_at}
                    for u in self.braze_users
                ]
            },
            "twilio_memory": {
                "stores": {
                    sid: {
                        "limit_policy": dict(s.limit_policy),
                        "profiles": {
                            pid: (
                                {"merged_into": p.merged_into}
                                if p.merged_into
                                else {"identifiers": copy.deepcopy(p.identifiers)}
                            )
                            for pid, p in s.profiles.items()
                        },
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


def load_seed(path: str | Path) -> dict[str, Any]:
    """Parse a seed file: JSON when it ends in .json, YAML otherwise."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return data or {}


def _section(seed: dict[str, Any], name: str) -> dict[str, Any]:
    value = seed.get(name) or {}
    if not isinstance(value, dict):
        raise SeedError(f"seed section {name!r} must be a mapping")
    return value


def _seed_segment(section: dict[str, Any]) -> dict[str, SegmentSpace]:
    spaces: dict[str, SegmentSpace] = {}
    for space_id, raw in (section.get("spaces") or {}).items():
        raw = raw or {}
        profiles = []
        for i, p in enumerate(raw.get("profiles") or []):
            ids = [
                SegmentExternalId(type=str(e["type"]), id=str(e["id"]))
                for e in p.get("external_ids") or []
            ]
            if not any(e.type == "user_id" for e in ids):
                raise SeedError(f"segment space {space_id} profile {i}: needs a user_id")
            segment_id = str(p.get("segment_id") or _stable_id("use_", space_id, i))
            profiles.append(SegmentProfile(segment_id, ids))
        spaces[str(space_id)] = SegmentSpace(
            space_id=str(space_id),
            delete_enabled=bool(raw.get("delete_enabled", True)),
            source_attached=bool(raw.get("source_attached", True)),
            profiles=profiles,
        )
    return spaces


def _seed_braze_user(raw: dict[str, Any], index: int | str) -> BrazeUser:
    """A user from its seed entry; a generated braze_id also hashes ``index`` (the entry's
    place), so two users with the same fields still get different ids."""
    aliases = [(str(a["alias_name"]), str(a["alias_label"])) for a in raw.get("user_aliases") or []]
    braze_id = raw.get("braze_id") or _stable_id(
        "", index, raw.get("external_id"), raw.get("email"), raw.get("phone"), aliases
    )
    return BrazeUser(
        braze_id=str(braze_id),
        external_id=_opt_str(raw.get("external_id")),
        email=_opt_str(raw.get("email")),
        phone=_opt_str(raw.get("phone")),
        user_aliases=aliases,
        updated_at=str(raw.get("updated_at") or "2026-01-01T00:00:00Z"),
        attributes=dict(raw.get("attributes") or {}),
    )


def _seed_twilio(section: dict[str, Any]) -> dict[str, TwilioStore]:
    stores: dict[str, TwilioStore] = {}
    for store_id, raw in (section.get("stores") or {}).items():
        raw = raw or {}
        store = TwilioStore(
            str(store_id), {str(k): str(v) for k, v in (raw.get("limit_policy") or {}).items()}
        )
        for profile_id, p in (raw.get("profiles") or {}).items():
            p = p or {}
            identifiers = {
                str(k): [str(v) for v in vs] for k, vs in (p.get("identifiers") or {}).items()
            }
            store.profiles[str(profile_id)] = TwilioProfile(
                str(profile_id), identifiers, _opt_str(p.get("merged_into"))
            )
        stores[str(store_id)] = store
    return stores


def _seed_insider_user(raw: dict[str, Any], index: int) -> InsiderUser:
    identifiers = dict(raw.get("identifiers") or {})
    custom = {str(k): str(v) for k, v in (identifiers.pop("custom", None) or {}).items()}
    return InsiderUser(
        insider_id=str(raw.get("insider_id") or _stable_id("iid_", index, identifiers, custom)),
        identifiers={str(k): str(v) for k, v in identifiers.items()},
        custom_identifiers=custom,
        attributes=dict(raw.get("attributes") or {}),
        custom_attributes=dict(raw.get("custom_attributes") or {}),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)

"""Insider: attribute deletes batched by user (up to 1,000 users and 5 MB a request);
identifier deletes one request each (`DELETE /api/user/v1/identity`)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

from reconciler.adapters.requests import VendorRequest
from reconciler.config import Target
from reconciler.desired import Item, canonical_json

MAX_USERS = 1000
MAX_BYTES = 5 * 1024 * 1024
ATTRIBUTE_PATH = "/api/user/v1/attribute/delete"
IDENTITY_PATH = "/api/user/v1/identity"


def _user_ref(locator: dict[str, Any]) -> dict[str, Any]:
    if "insider_id" in locator:
        return {"insider_id": locator["insider_id"]}
    return {"identifiers": dict(locator)}


def _users(items: Sequence[Item]) -> list[dict[str, Any]]:
    """One entry per user, merging every attribute removal for that user."""
    users: dict[str, dict[str, Any]] = {}
    for item in items:
        key = canonical_json(item.locator)
        user = users.setdefault(key, _user_ref(item.locator))
        section = user.setdefault("custom", {}) if item.removal["custom"] else user
        name = item.removal["name"]
        if item.kind == "attribute":
            whole = section.setdefault("whole", [])
            if name not in whole:
                whole.append(name)
        else:
            values = section.setdefault("partial", {}).setdefault(name, [])
            if item.removal["value"] not in values:
                values.append(item.removal["value"])
    return list(users.values())


def user_key(item: Item) -> str:
    return canonical_json(item.locator)


def body_size(body: Any) -> int:
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class InsiderRequests:
    # counted in users, not items: the batcher groups items by user_key
    max_batch = MAX_USERS

    def batch_key(self, item: Item) -> Hashable | None:
        return "attributes" if item.kind in ("attribute", "attribute_value") else None

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        if items[0].kind == "identifier":
            (item,) = items
            ref: dict[str, Any] = dict(item.locator)
            return VendorRequest("DELETE", IDENTITY_PATH, body={"identifiers": ref})
        users = _users(items)
        if len(users) > MAX_USERS:
            raise ValueError(f"an insider attribute delete holds at most {MAX_USERS} users")
        return VendorRequest("POST", ATTRIBUTE_PATH, body={"users": users})

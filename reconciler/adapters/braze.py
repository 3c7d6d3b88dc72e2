"""Braze: `POST /users/delete`, up to 50 identifiers of ONE type per request."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from reconciler.adapters.requests import VendorRequest
from reconciler.config import Target
from reconciler.desired import Item

# locator key -> request field (FACTS 2.1)
FIELDS = {
    "external_id": "external_ids",
    "braze_id": "braze_ids",
    "user_alias": "user_aliases",
    "email": "email_addresses",
    "phone": "phone_numbers",
}


def locator_key(item: Item) -> str:
    return next(k for k in item.locator if k in FIELDS)


def _entry(item: Item) -> Any:
    key = locator_key(item)
    if key in ("email", "phone"):
        # {"email": ..., "prioritization": [...]}; phone follows the email shape (CONTRACT)
        return {key: item.locator[key], "prioritization": list(item.locator["prioritization"])}
    if key == "user_alias":
        alias = item.locator["user_alias"]
        return {"alias_name": alias["alias_name"], "alias_label": alias["alias_label"]}
    return item.locator[key]


class BrazeRequests:
    max_batch = 50

    def batch_key(self, item: Item) -> Hashable | None:
        return locator_key(item)

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        if not items or len(items) > self.max_batch:
            raise ValueError(f"a braze request holds 1 to {self.max_batch} ids")
        key = locator_key(items[0])
        if any(locator_key(i) != key for i in items):
            raise ValueError("a braze request holds one identifier type")
        return VendorRequest(
            "POST", "/users/delete", body={FIELDS[key]: [_entry(i) for i in items]}
        )

"""Braze: reading users back with `/users/export/ids` (FACTS.md §3).

External ids and aliases go 50 a read; braze_id, email and phone one each. A user in the
answer is present; an external id listed in `invalid_user_ids`, or an empty `users`, is
absent. A delete by email or phone removed ONE user that the prioritization picked, so a
user who still holds that email proves nothing about that one (and judging it present
would send a delete that removes another person): those reads can confirm absence (no
user holds it) and are otherwise unverified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.desired import Item
from reconciler.evidence import Answer
from reconciler.target import Target
from reconciler.vendors.api import (
    ABSENT_SEEN,
    PRESENT,
    UNVERIFIED,
    Observation,
    Pair,
    VendorRequest,
)
from reconciler.vendors.braze.requests import EXPORT_FIELDS, EXPORT_PATH, locator_key
from reconciler.vendors.kit import chunked_by_key

BATCHED = {"external_id": 50, "user_alias": 50}  # "up to 50 external_ids or user_aliases"
FIELDS = ["external_id", "braze_id", "user_aliases", "email", "phone"]


class BrazeReader:
    def read_batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        out: list[list[Pair]] = []
        for group in chunked_by_key(pairs, locator_key, 50):
            size = BATCHED.get(locator_key(group[0][1]), 1)
            out.extend(group[i : i + size] for i in range(0, len(group), size))
        return out

    def read_request(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        key = locator_key(items[0])
        body: dict[str, Any] = {"fields_to_export": FIELDS}
        if key == "external_id":
            body["external_ids"] = [i.locator["external_id"] for i in items]
        elif key == "user_alias":
            body["user_aliases"] = [dict(i.locator["user_alias"]) for i in items]
        elif key == "braze_id":
            body["braze_id"] = items[0].locator["braze_id"]
        else:
            body[EXPORT_FIELDS[key]] = items[0].locator[key]
        return VendorRequest("POST", EXPORT_PATH, body=body)

    def observe(
        self, answer: Answer | None, request: VendorRequest, items: Sequence[Item]
    ) -> list[Observation | VendorRequest]:
        n = len(items)
        if answer is None:
            return [Observation(UNVERIFIED, "no answer")] * n
        body = answer.body
        if not (200 <= answer.status < 300 and isinstance(body, dict)):
            return [Observation(UNVERIFIED, f"not Braze's answer ({answer.describe()})")] * n
        users = body.get("users")
        if not isinstance(users, list):
            return [Observation(UNVERIFIED, "an export answer without users")] * n
        users = [u for u in users if isinstance(u, dict)]
        key = locator_key(items[0])
        if key == "external_id":
            invalid = set(body.get("invalid_user_ids") or [])
            held = {u.get("external_id") for u in users}
            return [_external(i.locator["external_id"], held, invalid) for i in items]
        if key == "user_alias":
            aliases = {
                (a.get("alias_name"), a.get("alias_label"))
                for u in users
                for a in (u.get("user_aliases") or [])
                if isinstance(a, dict)
            }
            return [
                Observation(
                    PRESENT
                    if (
                        i.locator["user_alias"]["alias_name"],
                        i.locator["user_alias"]["alias_label"],
                    )
                    in aliases
                    else ABSENT_SEEN
                )
                for i in items
            ]
        if key == "braze_id":
            return [Observation(PRESENT if users else ABSENT_SEEN)]
        if not users:
            return [Observation(ABSENT_SEEN, f"no Braze user holds this {key}")]
        return [
            Observation(
                UNVERIFIED,
                f"{len(users)} user(s) hold this {key}: a read cannot tell whether the one "
                "the prioritization picked is gone",
            )
        ]


def _external(external_id: str, held: set[Any], invalid: set[Any]) -> Observation:
    if external_id in held:
        return Observation(PRESENT)
    if external_id in invalid:
        return Observation(ABSENT_SEEN)
    return Observation(UNVERIFIED, "neither among the users nor in invalid_user_ids")

"""Insider: attribute deletes batched by user (up to 1,000 users and 5 MB a request);
identifier deletes one request each (`DELETE /api/user/v1/identity`).

200 -> done. The identity API's 400 for a user's sole identifier -> rejected. 404 (no
such user) -> done, already absent. 403 stops the target.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

from reconciler.adapters.requests import NoPreflight, Pair, VendorRequest, no_redirect
from reconciler.apply.outcome import DONE, FAILED, Answer, Outcome, by_status, error_text
from reconciler.config import Target
from reconciler.desired import Item, canonical_json

MAX_USERS = 1000
# "must not exceed 5 MB" (FACTS 4.1) without saying which MB: the smaller, 5,000,000 bytes
MAX_BYTES = 5_000_000
# room for {"users":[...]} around the users
ENVELOPE = 16
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
        user = users.setdefault(user_key(item), _user_ref(item.locator))
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


def is_attribute(item: Item) -> bool:
    return item.kind in ("attribute", "attribute_value")


class InsiderRequests(NoPreflight):
    # counted in users, not items
    max_batch = MAX_USERS
    redirect = staticmethod(no_redirect)

    def batch_key(self, item: Item) -> Hashable | None:
        return "attributes" if is_attribute(item) else None

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        """Identity deletes alone; attribute deletes by user, within 1,000 users and 5 MB."""
        out: list[list[Pair]] = [[p] for p in pairs if not is_attribute(p[1])]
        by_user: dict[str, list[Pair]] = {}
        for pair in pairs:
            if is_attribute(pair[1]):
                by_user.setdefault(user_key(pair[1]), []).append(pair)
        batch: list[Pair] = []
        users = 0
        size = ENVELOPE
        for group in by_user.values():
            user_size = body_size(_users([p[1] for p in group])[0]) + 1
            if batch and (users + 1 > MAX_USERS or size + user_size > MAX_BYTES):
                out.append(batch)
                batch, users, size = [], 0, ENVELOPE
            batch.extend(group)
            users += 1
            size += user_size
        if batch:
            out.append(batch)
        return out

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        if not is_attribute(items[0]):
            (item,) = items
            return VendorRequest("DELETE", IDENTITY_PATH, body={"identifiers": dict(item.locator)})
        users = _users(items)
        if len(users) > MAX_USERS:
            raise ValueError(f"an insider attribute delete holds at most {MAX_USERS} users")
        return VendorRequest("POST", ATTRIBUTE_PATH, body={"users": users})

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        return {
            "X-PARTNER-NAME": target.settings["partner_name"],
            "X-REQUEST-TOKEN": secrets["token_env"],
        }

    def interpret(self, answer: Answer, items: Sequence[Item]) -> list[Outcome]:
        if answer.status == 404:
            text = error_text(answer.body)
            return [Outcome(DONE, 404, text, already_absent=True)] * len(items)
        failures = _reported_failures(answer.body)
        if 200 <= answer.status < 300 and failures:
            # The Postman example's 200 body lists failures under data.fail without saying
            # per user which; every item of the batch is failed and retried (attribute
            # deletes are idempotent) rather than recorded done.
            text = f"Insider reported failures in this request: {failures}"
            return [Outcome(FAILED, answer.status, text)] * len(items)
        return by_status(answer, len(items), DONE)


def _reported_failures(body: object) -> object:
    """`data.fail` of a 200 answer when it is not empty (FACTS 4.1 contradiction 13)."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        fail = body["data"].get("fail")
        if isinstance(fail, dict) and set(fail) <= {"count"} and not fail.get("count"):
            return None  # {"count": 0}: the mirror of successful.count, nothing failed
        if fail:
            return fail
    return None

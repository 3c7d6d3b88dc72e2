"""Braze: `POST /users/delete`, up to 50 identifiers of ONE type per request.

The answer `{"deleted": n}` counts users queued for deletion (asynchronous), so items are
`accepted`, not done. When n is below the batch size Braze matched fewer users than we
named and does not say which: every item of the batch is accepted with that note and a
later refresh settles them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from reconciler.adapters.requests import (
    NoPreflight,
    Pair,
    VendorRequest,
    chunked_by_key,
    no_redirect,
)
from reconciler.apply.outcome import ACCEPTED, FAILED, UNKNOWN, Answer, Outcome, by_status
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


def resend_safe(item: Item) -> bool:
    """Whether sending this delete again can only delete the same user.

    By external_id, braze_id or alias it can. By email or phone Braze deletes whichever
    user the prioritization picks: once that user is gone, the same request picks the
    next match, someone else. Such a request is never retried after it may have reached
    Braze, and an item whose answer was lost is held for a person to check.
    """
    return locator_key(item) not in ("email", "phone")


def _entry(item: Item) -> Any:
    key = locator_key(item)
    if key in ("email", "phone"):
        # {"email": ..., "prioritization": [...]}; phone follows the email shape (CONTRACT)
        return {key: item.locator[key], "prioritization": list(item.locator["prioritization"])}
    if key == "user_alias":
        alias = item.locator["user_alias"]
        return {"alias_name": alias["alias_name"], "alias_label": alias["alias_label"]}
    return item.locator[key]


class BrazeRequests(NoPreflight):
    max_batch = 50
    redirect = staticmethod(no_redirect)

    def batch_key(self, item: Item) -> Hashable | None:
        return locator_key(item)

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        return chunked_by_key(pairs, locator_key, self.max_batch)

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        if not items or len(items) > self.max_batch:
            raise ValueError(f"a braze request holds 1 to {self.max_batch} ids")
        key = locator_key(items[0])
        if any(locator_key(i) != key for i in items):
            raise ValueError("a braze request holds one identifier type")
        body = {FIELDS[key]: [_entry(i) for i in items]}
        return VendorRequest("POST", "/users/delete", body=body, idempotent=resend_safe(items[0]))

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {secrets['api_key_env']}"}

    def interpret(self, answer: Answer, items: Sequence[Item]) -> list[Outcome]:
        body = answer.body
        if 200 <= answer.status < 300 and isinstance(body, dict) and "deleted" in body:
            deleted = body.get("deleted")
            note = None
            if isinstance(deleted, int) and deleted < len(items):
                note = (
                    f"Braze queued {deleted} of the {len(items)} users in this request and does "
                    "not say which; refresh settles them"
                )
            return [Outcome(ACCEPTED, answer.status, None, note=note)] * len(items)
        if 200 <= answer.status < 300:
            # a 2xx without the documented count: not proof of anything
            text = f"unexpected answer without 'deleted': {body}"
            # Braze may well have queued the deletes (its generic success is
            # {"message": "success"}): safe to send again only where it is idempotent.
            state = FAILED if resend_safe(items[0]) else UNKNOWN
            return [Outcome(state, answer.status, text)] * len(items)
        return by_status(answer, len(items), ACCEPTED)

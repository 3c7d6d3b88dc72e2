"""Braze: `POST /users/delete`.

Batching (reconciler/vendors/braze/FACTS.md §1, §5): up to 50 ids of ONE type a request.
By external_id, braze_id or alias, 50 a request; by email or phone ONE a request, so that
the answer's `deleted` count belongs to one item: Braze deletes nothing when more than one
user matches the prioritization, and a batch's count would not say which entry that was.

Evidence: `{"deleted": n}` counts users *queued* for deletion (asynchronous), so an item
is `accepted`, never `done`, until a read confirms it (refresh).

- 2xx `{"deleted": 1}` for one email/phone: accepted
- 2xx `{"deleted": 0}` for one email/phone: Braze deleted no user: a read
  (`/users/export/ids`) tells whether none holds it (done: absent) or several do
  (rejected: ambiguous)
- 2xx `{"deleted": n}` for a batch of ids: accepted; n below the batch size is noted on
  each item ("count unconfirmed"), for refresh to settle
- 2xx without `deleted`: proves nothing: failed (ids), unknown (email/phone: Braze may
  have acted)
- 401, 403: credentials or permission: the target stops
- 404: "Not Found: invalid URL" (reconciler/vendors/braze/FACTS.md §2): the target stops
- other 4xx: rejected
- anything not JSON: not Braze's answer: the target stops
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from reconciler.desired import Item
from reconciler.evidence import (
    UNKNOWN,
    Answer,
    Outcome,
    absent,
    accepted,
    credentials_refused,
    error_text,
    failed,
    not_the_vendor,
    rejected,
    stop,
)
from reconciler.target import Target
from reconciler.vendors.api import Pair, Preflight, VendorRequest
from reconciler.vendors.kit import PROBE_ID, Defaults, chunked_by_key, preflight_reading

LABEL = "Braze"
MAX_IDS = 50

# locator key -> request field (reconciler/vendors/braze/FACTS.md §1)
FIELDS = {
    "external_id": "external_ids",
    "braze_id": "braze_ids",
    "user_alias": "user_aliases",
    "email": "email_addresses",
    "phone": "phone_numbers",
}
# locator key -> the `/users/export/ids` field that looks one up
# (reconciler/vendors/braze/FACTS.md §3)
EXPORT_FIELDS = {"email": "email_address", "phone": "phone"}
EXPORT_PATH = "/users/export/ids"


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


def _batch_size(key: str) -> int:
    return MAX_IDS if key not in ("email", "phone") else 1


def is_braze_body(body: object) -> bool:
    """Braze's JSON answers are objects ({"deleted"}, {"message", "errors"})."""
    return isinstance(body, dict)


class BrazeRequests(Defaults):
    vendor_label = LABEL
    max_batch = MAX_IDS

    def batch_key(self, item: Item) -> Hashable | None:
        key = locator_key(item)
        return key if _batch_size(key) > 1 else None

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        out: list[list[Pair]] = []
        for group in chunked_by_key(pairs, locator_key, MAX_IDS):
            size = _batch_size(locator_key(group[0][1]))
            out.extend(group[i : i + size] for i in range(0, len(group), size))
        return out

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        if not items:
            raise ValueError("a braze request holds at least one id")
        key = locator_key(items[0])
        if any(locator_key(i) != key for i in items):
            raise ValueError("a braze request holds one identifier type")
        if len(items) > _batch_size(key):
            raise ValueError(f"a braze request holds at most {_batch_size(key)} {key} entries")
        body = {FIELDS[key]: [_entry(i) for i in items]}
        return VendorRequest("POST", "/users/delete", body=body, idempotent=resend_safe(items[0]))

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        return {"Authorization": f"Bearer {secrets['api_key_env']}"}

    def preflight(self, target: Target) -> list[VendorRequest]:
        # An export of an external_id nobody has (reconciler/vendors/braze/FACTS.md §3):
        # proves host, key and the users.export.ids permission; users.delete is proven by
        # the first delete.
        body = {"external_ids": [PROBE_ID], "fields_to_export": ["external_id"]}
        return [VendorRequest("POST", EXPORT_PATH, body=body)]

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        (answer,) = answers
        return preflight_reading(
            LABEL,
            answer,
            lambda a: 200 <= a.status < 300 and isinstance(a.body, dict) and "users" in a.body,
            "a /users/export/ids read",
        )

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        body = answer.body
        n = len(items)
        if not answer.json or not is_braze_body(body):
            return [_not_braze(answer, items)] * n
        assert isinstance(body, dict)
        if 200 <= answer.status < 300:
            deleted = body.get("deleted")
            if type(deleted) is not int:
                # a 2xx without the documented count proves nothing; Braze may well have
                # queued the deletes: safe to send again only where that is idempotent
                text = "a success answer without the documented 'deleted' count"
                if resend_safe(items[0]):
                    return [failed(answer.status, text)] * n
                return [Outcome(UNKNOWN, answer.status, text)] * n
            if not resend_safe(items[0]):
                (item,) = items
                if deleted == 1:
                    return [accepted(answer.status, vendor_code="deleted:1")]
                return [_ambiguous_check(answer, item, deleted)]
            note = None
            if deleted != n:
                note = (
                    f"Braze queued {deleted} of the {n} users in this request and does "
                    "not say which: count unconfirmed, refresh settles them"
                )
            return [accepted(answer.status, note, f"deleted:{deleted}")] * n
        detail = error_text(body)
        if answer.status in (401, 403):
            return [credentials_refused(answer, detail)] * n
        if answer.status == 404:
            return [stop(404, "Braze answered Not Found: invalid URL (check base_url)")] * n
        if 400 <= answer.status < 500:
            return [rejected(answer.status, detail or f"HTTP {answer.status}")] * n
        return [stop(answer.status, f"unexpected answer HTTP {answer.status}: {detail}")] * n

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        """After `{"deleted": 0}`: how many users hold the email or phone?"""
        key = locator_key(item)
        if answer is None or not (200 <= answer.status < 300) or not isinstance(answer.body, dict):
            return rejected(
                outcome.code,
                f"Braze deleted no user for this {key}, and the read that would say why "
                "failed: check the user in Braze",
                outcome.vendor_code,
            )
        users = answer.body.get("users")
        count = len(users) if isinstance(users, list) else None
        if count == 0:
            return absent(outcome.code or 200, "deleted:0", f"no Braze user has this {key}")
        if count is None:
            text = f"Braze deleted no user for this {key}"
        elif count == 1:
            text = (
                f"Braze deleted no user: the one user with this {key} does not match the "
                "prioritization"
            )
        else:
            text = (
                f"Braze deleted no user: {count} users have this {key} and Braze deletes none "
                "when several match the prioritization. Locate the user by external_id "
                "(reconcile resolve lists them)"
            )
        return rejected(outcome.code, text, outcome.vendor_code)


def _ambiguous_check(answer: Answer, item: Item, deleted: int) -> Outcome:
    key = locator_key(item)
    body = {EXPORT_FIELDS[key]: item.locator[key], "fields_to_export": ["external_id"]}
    return Outcome(
        "rejected",
        answer.status,
        vendor_code=f"deleted:{deleted}",
        check=VendorRequest("POST", EXPORT_PATH, body=body),
    )


def _not_braze(answer: Answer, items: Sequence[Item]) -> Outcome:
    outcome = not_the_vendor(answer, LABEL)
    if resend_safe(items[0]) or 400 <= answer.status < 500:
        return outcome
    # A page that is not Braze's after a delete by email or phone: a proxy may have
    # passed it on. The target stops, and the item is held, never sent again blindly.
    return Outcome(UNKNOWN, answer.status, outcome.message, stop=outcome.stop)

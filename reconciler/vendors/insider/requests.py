"""Insider: attribute deletes batched by user (up to 1,000 users and 5 MB a request);
identifier deletes one request each (`DELETE /api/user/v1/identity`).

Evidence (reconciler/vendors/insider/FACTS.md §2, §3, §5; the Academy page's sample
responses): Insider does not say whether either delete is synchronous, nor does a 200 say
whether the attribute or identifier was there (a delete of attributes a user lacks succeeds
the same way). So a 200 is `accepted`: acknowledged, confirmed later by a profile read
(refresh).

- 200 `{}` (or the Postman body with an empty `fail`): accepted
- 200 listing `data.fail`: failed: Insider reported failures without saying which user
- 400 `Partner is invalid.`, 401, 403: the partner name or token: the target stops
- 400 sole identifier (identity delete): rejected: a user's only identifier cannot go
- other 400: rejected
- 404 on the identity delete: undocumented: the profile read decides (its documented 404
  `no such user`: done, already absent)
- 404 on the attribute delete, or an answer that is not Insider's JSON: a wrong base
  URL: the target stops
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item, canonical_json, load_canonical
from reconciler.evidence import (
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
from reconciler.vendors.insider.rules import IDENTIFIER_TYPES
from reconciler.vendors.kit import PROBE_ID, Defaults, preflight_reading

LABEL = "Insider"
MAX_USERS = 1000
# "must not exceed 5 MB" without saying which MB: the smaller, 5,000,000 bytes
# (reconciler/vendors/insider/FACTS.md §1, §7)
MAX_BYTES = 5_000_000
# room for {"users":[...]} around the users
ENVELOPE = 16
ATTRIBUTE_PATH = "/api/user/v1/attribute/delete"
IDENTITY_PATH = "/api/user/v1/identity"
PROFILE_PATH = "/api/user/v1/profile"
PARTNER_INVALID = "Partner is invalid."
NO_USER = "no such user for these identifiers"


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


def is_insider_body(body: object) -> bool:
    """Insider's JSON answers are objects: `{}`, `{"data": ...}`, `{"success", "message"}`
    or `{"error": "..."}` (reconciler/vendors/insider/FACTS.md §2, §3)."""
    if not isinstance(body, dict):
        return False
    return not body or "data" in body or "message" in body or isinstance(body.get("error"), str)


def _profile_read(identifiers: dict[str, Any]) -> VendorRequest:
    # "At least one of attributes or events is required"
    # (reconciler/vendors/insider/FACTS.md §3)
    return VendorRequest(
        "POST", PROFILE_PATH, body={"identifiers": identifiers, "attributes": ["email"]}
    )


class InsiderRequests(Defaults):
    vendor_label = LABEL
    # counted in users, not items
    max_batch = MAX_USERS

    def kind(self, items: Sequence[Item]) -> str:
        # identity deletes have their own, lower limit (reconciler/vendors/insider/FACTS.md §4)
        return "delete" if is_attribute(items[0]) else "identity"

    def phase(self, item: Item) -> int:
        # an identifier may locate a user whose attributes go in the same run: deleting
        # it first would leave those attributes unreachable, so identifiers go last
        return 0 if is_attribute(item) else 1

    def subject(self, item: Item) -> Hashable | None:
        # who an item locates, case-folded: Insider normalises emails, and keeping back
        # one identity delete too many is the safe way to be wrong
        return canonical_json(item.locator).casefold()

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

    def fast_preview(
        self, target: Target, mask: Callable[[str], str]
    ) -> Callable[[bytes], tuple[str, str, str] | None] | None:
        """Whole-attribute removals on a user found by one email, phone number or uuid
        (what a CSV of attribute removals makes), rendered without building the item,
        its masked copy or the request (the JSON equivalence tests hold this
        byte-identical to the general path); anything else takes the general path."""
        encode = encode_basestring
        head = f'{{"method": "POST", "path": {encode(ATTRIBUTE_PATH)}, "body": {{"users": '
        tail = f'}}, "batched": {encode(f"sent in batches of up to {MAX_USERS}")}}}'

        def preview(canonical: bytes) -> tuple[str, str, str] | None:
            _, locator, removal = load_canonical(canonical)
            if len(locator) != 1 or len(removal) != 3 or removal.get("kind") != "attribute":
                return None
            ((key, value),) = locator.items()
            name, custom = removal.get("name"), removal.get("custom")
            if (
                key not in IDENTIFIER_TYPES  # shown masked (never a name kept as written)
                or type(value) is not str
                or type(name) is not str
                or type(custom) is not bool
            ):
                return None
            shown = mask(value)
            whole = f'"whole": [{encode(name)}]'
            user = f'{{"identifiers": {{{encode(key)}: {encode(shown)}}}, '
            user += f'"custom": {{{whole}}}}}' if custom else f"{whole}}}"
            words = "custom attribute" if custom else "attribute"
            return "attribute", f"{words} {name} on user {key} {shown}", f"{head}[{user}]{tail}"

        return preview

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        return {
            "X-PARTNER-NAME": target.settings["partner_name"],
            "X-REQUEST-TOKEN": secrets["token_env"],
        }

    def preflight(self, target: Target) -> list[VendorRequest]:
        # A profile read of a uuid nobody has: the documented 404 `no such user` proves
        # the host, the partner name and the token.
        return [_profile_read({"uuid": PROBE_ID})]

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        (answer,) = answers
        if answer is not None and _partner_invalid(answer):
            return Preflight("Insider says the partner is invalid (HTTP 400)", "check partner_name")
        return preflight_reading(
            LABEL,
            answer,
            lambda a: (
                (a.status == 200 and isinstance(a.body, dict))
                or (a.status == 404 and NO_USER in str(error_text(a.body)))
            ),
            "a profile read",
        )

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        n = len(items)
        body = answer.body
        identity = request.path == IDENTITY_PATH
        if not answer.json or not is_insider_body(body):
            if answer.status == 200 and identity and body in (None, ""):
                # the identity delete's 200 body is not documented (the Postman example
                # has none): an empty 200 is Insider's answer
                return [accepted(200, _ACKNOWLEDGED)]
            return [not_the_vendor(answer, LABEL)] * n
        detail = error_text(body)
        if answer.status == 200:
            failures = _reported_failures(body)
            if failures:
                # The Postman example's 200 lists failures under data.fail without saying
                # per user which: every item of the batch is failed and retried (attribute
                # deletes are idempotent) rather than recorded done.
                text = f"Insider reported failures in this request: {failures}"
                return [failed(200, text)] * n
            return [accepted(200, _ACKNOWLEDGED)] * n
        if _partner_invalid(answer):
            return [stop(400, "Insider says the partner is invalid: check partner_name")] * n
        if answer.status in (401, 403):
            return [credentials_refused(answer, detail)] * n
        if answer.status == 404 and identity:
            (item,) = items
            return [
                Outcome(
                    "failed",
                    404,
                    detail,
                    check=_profile_read(dict(item.locator)),
                )
            ]
        if answer.status == 404:
            return [stop(404, "Insider answered 404 to an attribute delete: check base_url")] * n
        if 400 <= answer.status < 500:
            return [rejected(answer.status, detail or f"HTTP {answer.status}")] * n
        return [stop(answer.status, f"unexpected answer HTTP {answer.status}: {detail}")] * n

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        """After an identity delete's (undocumented) 404: does any user hold it?"""
        if answer is not None and answer.status == 404 and NO_USER in str(error_text(answer.body)):
            return absent(404, None, "no Insider user holds this identifier (profile read)")
        if answer is not None and answer.status == 200:
            return failed(
                404,
                "Insider answered 404 to the identifier delete, but a profile read finds a "
                "user with it: not removed",
            )
        seen = answer.describe() if answer is not None else "no answer"
        return failed(404, f"a 404 that the profile read could not explain ({seen})")


_ACKNOWLEDGED = (
    "Insider acknowledged the delete; it does not say whether the value was there or when "
    "it is gone: refresh confirms"
)


def _partner_invalid(answer: Answer) -> bool:
    return answer.status == 400 and PARTNER_INVALID in str(error_text(answer.body))


def _reported_failures(body: object) -> object:
    """`data.fail` of a 200 answer when it is not empty
    (reconciler/vendors/insider/FACTS.md §2, §7)."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        fail = body["data"].get("fail")
        if isinstance(fail, dict) and set(fail) <= {"count"} and not fail.get("count"):
            return None  # {"count": 0}: the mirror of successful.count, nothing failed
        if fail:
            return fail
    return None

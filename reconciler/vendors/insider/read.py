"""Insider: reading attributes and identifiers back with the profile read (FACTS.md §3).

`POST /api/user/v1/profile {identifiers, attributes}`, one user a read: its documented
404 `no such user` is absent (the user, and so the identifier or attribute, is gone). An
attribute in the answer with a value is present (a value of an array: present when the
array holds it); a standard attribute the answer leaves out, or null, is absent. Custom
attributes come back prefixed, and the docs disagree on the prefix (FACTS.md §7): one the
answer leaves out is unverified, never confirmed absent on a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.desired import Item
from reconciler.evidence import Answer, error_text
from reconciler.target import Target
from reconciler.vendors.api import (
    ABSENT_SEEN,
    PRESENT,
    UNVERIFIED,
    Observation,
    Pair,
    VendorRequest,
)
from reconciler.vendors.insider.requests import NO_USER, PROFILE_PATH, is_attribute, user_key

CUSTOM_PREFIX = "c_"  # the page's example (c_member_code); its text says "_c__"


def _name(item: Item) -> str:
    name = str(item.removal["name"])
    return f"{CUSTOM_PREFIX}{name}" if item.removal["custom"] else name


class InsiderReader:
    def read_batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        by_user: dict[str, list[Pair]] = {}
        out: list[list[Pair]] = []
        for pair in pairs:
            if is_attribute(pair[1]):
                by_user.setdefault(user_key(pair[1]), []).append(pair)
            else:
                out.append([pair])
        return [*by_user.values(), *out]

    def read_request(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        locator = dict(items[0].locator)
        ref: dict[str, Any] = (
            {"insider_id": locator["insider_id"]}
            if "insider_id" in locator
            else {"identifiers": locator}
        )
        names = sorted({_name(i) for i in items if is_attribute(i)}) or ["email"]
        return VendorRequest("POST", PROFILE_PATH, body={**ref, "attributes": names})

    def observe(
        self, answer: Answer | None, request: VendorRequest, items: Sequence[Item]
    ) -> list[Observation | VendorRequest]:
        n = len(items)
        if answer is None:
            return [Observation(UNVERIFIED, "no answer")] * n
        if answer.status == 404 and NO_USER in str(error_text(answer.body)):
            return [Observation(ABSENT_SEEN, "no user holds these identifiers")] * n
        body = answer.body
        attributes = body.get("attributes") if isinstance(body, dict) else None
        if answer.status != 200 or not isinstance(attributes, dict):
            return [Observation(UNVERIFIED, f"not Insider's answer ({answer.describe()})")] * n
        return [_seen(item, attributes) for item in items]


def _seen(item: Item, attributes: dict[str, Any]) -> Observation:
    if not is_attribute(item):
        return Observation(PRESENT, "a user still holds this identifier")
    name = _name(item)
    if name not in attributes or attributes[name] in (None, "", []):
        if item.removal["custom"] and name not in attributes:
            return Observation(
                UNVERIFIED,
                f"the profile read did not return {name}: the docs disagree on the custom "
                "prefix, so its absence is not confirmed",
            )
        return Observation(ABSENT_SEEN)
    value = attributes[name]
    if item.kind == "attribute":
        return Observation(PRESENT)
    wanted = item.removal["value"]
    held = value if isinstance(value, list) else [value]
    # equal as JSON is equal: the number 12 is not the string "12"
    found = any(type(v) is type(wanted) and v == wanted for v in held)
    return Observation(PRESENT if found else ABSENT_SEEN)

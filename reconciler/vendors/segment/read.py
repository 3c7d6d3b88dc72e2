"""Segment: reading an identifier back, with the Profile API (FACTS.md §3).

`GET .../profiles/user_id:{id}/external_ids?include=TYPES&limit=100`, cursor paging by
`next`: one read (and its pages) answers every item of one profile. An identifier in
the answer is present; one not in any page is absent; a `not_found` profile is absent
(nothing holds the identifier there). Anything else proves nothing: unverified.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from reconciler.vendors.segment.requests import _profile_path, error_code

PAGE = 100  # "limit ... between 1 and 100" (FACTS.md §3)


class SegmentReader:
    def read_batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        by_user: dict[str, list[Pair]] = {}
        for pair in pairs:
            by_user.setdefault(str(pair[1].locator["user_id"]), []).append(pair)
        return list(by_user.values())

    def read_request(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        types = sorted({str(i.removal["type"]) for i in items})
        path = _profile_path(target, str(items[0].locator["user_id"])) + "/external_ids"
        return VendorRequest("GET", path, query={"include": ",".join(types), "limit": str(PAGE)})

    def observe(
        self, answer: Answer | None, request: VendorRequest, items: Sequence[Item]
    ) -> list[Observation | VendorRequest]:
        if answer is None:
            return [Observation(UNVERIFIED, "no answer")] * len(items)
        body = answer.body
        if answer.status == 404 and error_code(body) == "not_found":
            return [Observation(ABSENT_SEEN, "the profile was not found")] * len(items)
        if (
            answer.status != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("data"), list)
        ):
            return [Observation(UNVERIFIED, f"not Segment's answer ({answer.describe()})")] * len(
                items
            )
        seen = {
            (str(d.get("type")), str(d.get("id")).casefold())
            for d in body["data"]
            if isinstance(d, dict)
        }
        cursor = body.get("cursor")
        if not isinstance(cursor, dict):
            cursor = {}
        nxt = cursor.get("next") if cursor.get("has_more") else None
        out: list[Observation | VendorRequest] = []
        for item in items:
            key = (str(item.removal["type"]), str(item.removal["value"]).casefold())
            if key in seen:
                # a value that differs only in case counts as present: Segment lower-cases
                # external ids, and present is the safe side (a delete is idempotent)
                out.append(Observation(PRESENT))
            elif isinstance(nxt, str) and nxt:
                out.append(VendorRequest("GET", request.path, {**request.query, "next": nxt}))
            else:
                out.append(Observation(ABSENT_SEEN))
        return out

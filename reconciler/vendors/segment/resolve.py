"""Segment: a user_id for rows that name the profile by another identifier (FACTS.md §3).

The delete API locates a profile only by `user_id:` (§1), and teams often hold only an
email or a segment_id. `GET .../profiles/<type>:<value>/external_ids?include=user_id`
finds the profile's user_ids: exactly one resolves the row; none, or several (a merged
profile holds several user_ids, and deleting from the wrong one's view is not what the
row meant) leave the row unresolved with the reason. Never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.evidence import Answer
from reconciler.target import Target
from reconciler.vendors.api import Resolved, VendorRequest
from reconciler.vendors.kit import segment_part
from reconciler.vendors.segment.requests import error_code

LOOKUPS = ("email", "segment_id", "anonymous_id", "phone")
REMOVAL = ["type", "value"]


class SegmentResolver:
    def input_headers(self) -> list[list[str]]:
        return [[lookup, *REMOVAL] for lookup in LOOKUPS]

    def output_header(self, header: list[str]) -> list[str]:
        return ["user_id", *REMOVAL]

    def request(self, target: Target, row: Mapping[str, str]) -> VendorRequest:
        lookup = next(k for k in row if k in LOOKUPS)
        space = segment_part(target.settings["space_id"])
        who = f"{lookup}:{segment_part(row[lookup])}"
        path = f"/v1/spaces/{space}/collections/users/profiles/{who}/external_ids"
        return VendorRequest("GET", path, query={"include": "user_id", "limit": "100"})

    def resolve(self, answer: Answer | None, row: Mapping[str, str]) -> Resolved:
        if answer is None:
            return Resolved(problem="the lookup got no answer")
        body = answer.body
        if answer.status == 404 and error_code(body) == "not_found":
            return Resolved(problem="no profile has this identifier")
        if (
            answer.status != 200
            or not isinstance(body, dict)
            or not isinstance(body.get("data"), list)
        ):
            return Resolved(problem=f"not Segment's answer ({answer.describe()})")
        ids = sorted(
            {
                str(d["id"])
                for d in body["data"]
                if isinstance(d, dict) and d.get("type") == "user_id"
            }
        )
        if not ids:
            return Resolved(problem="the profile has no user_id (the delete API needs one)")
        if len(ids) > 1 or (body.get("cursor") or {}).get("has_more"):
            return Resolved(problem=f"the profile has {len(ids)} user_ids: ambiguous")
        return Resolved(rows=({"user_id": ids[0], "type": row["type"], "value": row["value"]},))

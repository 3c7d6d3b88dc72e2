"""Braze: an external_id for rows that name a user by email or phone (FACTS.md §3).

A delete by email or phone removes whichever user the prioritization picks, and sent
twice the next one: a delete by external_id removes exactly one user. One
`/users/export/ids` per row (email and phone go one a request): exactly one user, with an
external_id, resolves the row; none, several (the count is said: that is who else shares
the email), or one without an external_id leave it unresolved with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.evidence import Answer
from reconciler.target import Target
from reconciler.vendors.api import Resolved, VendorRequest
from reconciler.vendors.braze.requests import EXPORT_FIELDS, EXPORT_PATH


class BrazeResolver:
    def input_headers(self) -> list[list[str]]:
        return [["email"], ["phone"], ["email", "prioritization"], ["phone", "prioritization"]]

    def output_header(self, header: list[str]) -> list[str]:
        return ["external_id"]

    def request(self, target: Target, row: Mapping[str, str]) -> VendorRequest:
        key = "email" if "email" in row else "phone"
        body = {EXPORT_FIELDS[key]: row[key], "fields_to_export": ["external_id", "braze_id"]}
        return VendorRequest("POST", EXPORT_PATH, body=body)

    def resolve(self, answer: Answer | None, row: Mapping[str, str]) -> Resolved:
        key = "email" if "email" in row else "phone"
        if answer is None:
            return Resolved(problem="the lookup got no answer")
        body = answer.body
        users = body.get("users") if isinstance(body, dict) else None
        if not (200 <= answer.status < 300) or not isinstance(users, list):
            return Resolved(problem=f"not Braze's answer ({answer.describe()})")
        if not users:
            return Resolved(problem=f"no user has this {key}")
        if len(users) > 1:
            return Resolved(problem=f"{len(users)} users share this {key}: ambiguous")
        external_id = users[0].get("external_id") if isinstance(users[0], dict) else None
        if not external_id:
            return Resolved(problem="the one user with it has no external_id (delete by braze_id)")
        return Resolved(rows=({"external_id": str(external_id)},))

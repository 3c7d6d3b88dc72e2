"""Segment Unify (Delete Profile Identifier API): what a manifest may ask for.

From reconciler/vendors/segment/FACTS.md §1: profiles are located only by `user_id`; one
identifier per request; `group_id` is never deletable; a profile's last `user_id` cannot
go, and the identifier deleted must differ from the lookup id.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item
from reconciler.masking import fragment
from reconciler.vendors.api import Report, RowToCanonical, RowToEntry
from reconciler.vendors.kit import RulesDefaults, allowed_keys, require_header, sole_locator

VENDOR = "segment"
# External id types are lowercase names: email, user_id, anonymous_id, ios.idfa, ...
ID_TYPE = re.compile(r"^[a-z0-9][a-z0-9_.]*$")
# Segment's default externalIDs (segment-docs externalids.md; cross_domain_id from the
# Profile API's example answer: reconciler/vendors/segment/FACTS.md §6). group_id is one
# too, but never deletable.
STANDARD_TYPES = frozenset(
    {
        "user_id",
        "email",
        "anonymous_id",
        "android.id",
        "android.idfa",
        "android.push_token",
        "ios.id",
        "ios.idfa",
        "ios.push_token",
        "ga_client_id",
        "cross_domain_id",
    }
)


class SegmentRules(RulesDefaults):
    vendor = VENDOR

    def __init__(self, extra_types: frozenset[str] = frozenset()) -> None:
        # the types a manifest may delete: Segment's standard ones plus the target's
        # `identifier_types` (a typo such as `emial` passes no API check: it would only
        # come back "not found")
        self.known_types = STANDARD_TYPES | extra_types

    def for_target(self, settings: Mapping[str, Any]) -> SegmentRules:
        return SegmentRules(frozenset(settings.get("identifier_types") or ()))

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        if spec.get("delete_profiles"):
            report(("delete_profiles",), "segment cannot delete profiles, only identifiers")

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        allowed_keys(entry, {"profile", "identifiers"}, VENDOR, report)
        located = sole_locator(entry, "user_id", VENDOR, report, " (the delete API takes user_id:)")
        if located is None:
            return []
        user_id, _ = located
        identifiers = entry.get("identifiers")
        if not identifiers:
            report((), "identifiers is required for segment targets: what must be absent")
            return []
        items: list[Item] = []
        for i, ident in enumerate(identifiers):
            where = ("identifiers", i)
            id_type, value = ident["type"], ident.get("value")
            ok = True
            if "all_values" in ident:
                report((*where, "all_values"), "segment deletes one named value: give value")
                ok = False
            if value is None:
                report(where, "value is required for segment targets")
                ok = False
            if id_type == "group_id":
                report(
                    (*where, "type"), "segment never deletes group_id (individual profiles only)"
                )
                ok = False
            if not ID_TYPE.fullmatch(id_type):
                if ID_TYPE.fullmatch(id_type.lower()):
                    message = f"identifier types are lowercase in segment ({fragment(id_type)})"
                else:
                    message = (
                        f"{fragment(id_type)} is not a segment identifier type: lowercase letters, "
                        "digits, '_' and '.', starting with a letter or digit "
                        "(e.g. email, user_id, ios.idfa)"
                    )
                report((*where, "type"), message)
                ok = False
            elif id_type not in self.known_types and id_type != "group_id":
                report((*where, "type"), self._unknown_type(id_type))
                ok = False
            if id_type == "user_id" and value is not None and value == user_id:
                report(
                    where,
                    "cannot delete the user_id that locates the profile: a profile keeps at "
                    "least one user_id and the deleted id must differ from the lookup id",
                )
                ok = False
            if ok and user_id is not None:
                items.append(
                    Item(
                        target,
                        VENDOR,
                        {"user_id": user_id},
                        {"kind": "identifier", "type": id_type, "value": value},
                    )
                )
        return items

    def _unknown_type(self, id_type: str) -> str:
        near = difflib.get_close_matches(id_type, sorted(self.known_types), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        return (
            f"{fragment(id_type)} is not an identifier type of this space{hint} (Segment's "
            "standard types, plus the target's identifier_types in reconciler.yaml)"
        )

    def csv_reader(self, header: list[str]) -> RowToEntry:
        require_header(header, [["user_id", "type", "value"]], VENDOR)

        def to_entry(row: Mapping[str, str]) -> dict[str, Any]:
            return {
                "profile": {"user_id": row["user_id"]},
                "identifiers": [{"type": row["type"], "value": row["value"]}],
            }

        return to_entry

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        """A row's canonical bytes without its entry, Item or JSON encoder: the row
        makes one identifier removal unless `items` would report a problem with it."""
        user_col, type_col, value_col = (header.index(c) for c in ("user_id", "type", "value"))
        head = f'[{encode_basestring(target)},{{"user_id":'
        known = self.known_types

        def canonical(cells: list[str]) -> bytes | None:
            user_id, id_type, value = cells[user_col], cells[type_col], cells[value_col]
            if (
                id_type not in known
                or (id_type == "user_id" and value == user_id)
                or (id_type == "email" and "@" not in value)
            ):
                return None  # items reports why
            # canonical_json: keys sorted, compact, not ASCII-escaped
            return (
                f'{head}{encode_basestring(user_id)}}},{{"kind":"identifier",'
                f'"type":{encode_basestring(id_type)},"value":{encode_basestring(value)}}}]'
            ).encode()

        return canonical

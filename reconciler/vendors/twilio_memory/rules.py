"""Twilio Conversation Memory (remove profile identifier): what a manifest may ask for.

From reconciler/vendors/twilio_memory/FACTS.md §1 and the OpenAPI spec:
`DELETE .../Identifiers/{idType}` takes no value. With `removeAll=true` every value of the
type goes; without it the service picks ONE value by the store's `limitPolicy`
(fifo/lifo), which need not be the one the manifest names. We cannot guarantee a named
value, so we refuse it and only offer `all_values: true`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item
from reconciler.masking import fragment, mask
from reconciler.vendors.api import Report, RowToCanonical, RowToEntry
from reconciler.vendors.kit import RulesDefaults, allowed_keys, require_header, sole_locator

VENDOR = "twilio_memory"
PROFILE_ID = re.compile(r"^mem_profile_[0-7][0-9a-z]{25}$")
# OpenAPI: minLength 2, maxLength 30; the limits page: alphanumeric, hyphens, underscores
# (reconciler/vendors/twilio_memory/FACTS.md §6).
ID_TYPE = re.compile(r"^[A-Za-z0-9_-]{2,30}$")

VALUE_REFUSED = (
    "twilio_memory cannot remove a named value: DELETE .../Identifiers/{idType} removes "
    "either every value (removeAll=true) or one value the service picks by the store's "
    "limitPolicy (fifo/lifo), which may not be this one. Use all_values: true instead"
)


class TwilioMemoryRules(RulesDefaults):
    vendor = VENDOR

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        if spec.get("delete_profiles"):
            report(("delete_profiles",), "twilio_memory targets remove identifiers, not profiles")

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        allowed_keys(entry, {"profile", "identifiers"}, VENDOR, report)
        located = sole_locator(entry, "profile_id", VENDOR, report)
        if located is None:
            return []
        profile_id, ok = located
        if profile_id is not None and not PROFILE_ID.fullmatch(profile_id):
            report(
                ("profile", "profile_id"),
                f"{mask(profile_id)!r} does not match ^mem_profile_[0-7][0-9a-z]{{25}}$",
            )
            ok = False
        identifiers = entry.get("identifiers")
        if not identifiers:
            report((), "identifiers is required for twilio_memory targets")
            return []
        items: list[Item] = []
        for i, ident in enumerate(identifiers):
            where = ("identifiers", i)
            id_type = ident["type"]
            good = ok
            if not ID_TYPE.fullmatch(id_type):
                report(
                    (*where, "type"),
                    f"{fragment(id_type)} is not a Memory identifier type "
                    "(2-30 letters, digits, '-', '_')",
                )
                good = False
            if "value" in ident:
                report((*where, "value"), VALUE_REFUSED)
                good = False
            elif ident.get("all_values") is not True:
                report(where, "all_values: true is required (every value of the type is removed)")
                good = False
            if good:
                items.append(
                    Item(
                        target,
                        VENDOR,
                        {"profile_id": profile_id},
                        {"kind": "identifier_type", "type": id_type},
                    )
                )
        return items

    def csv_reader(self, header: list[str]) -> RowToEntry:
        require_header(header, [["profile_id", "type"]], VENDOR)
        return lambda row: {
            "profile": {"profile_id": row["profile_id"]},
            "identifiers": [{"type": row["type"], "all_values": True}],
        }

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        """A row's canonical bytes without its entry, Item or JSON encoder: the row
        makes one identifier-type removal unless `items` would report a problem with it
        (both cells are then plain ASCII from the patterns: nothing to escape)."""
        profile_col, type_col = header.index("profile_id"), header.index("type")
        head = f'[{encode_basestring(target)},{{"profile_id":"'
        profile_ok, type_ok = PROFILE_ID.fullmatch, ID_TYPE.fullmatch

        def canonical(cells: list[str]) -> bytes | None:
            profile_id, id_type = cells[profile_col], cells[type_col]
            if not (profile_ok(profile_id) and type_ok(id_type)):
                return None  # items reports why
            return (
                f'{head}{profile_id}"}},{{"kind":"identifier_type","type":"{id_type}"}}]'
            ).encode()

        return canonical

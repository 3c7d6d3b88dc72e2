"""Insider (Delete User Attribute, Delete User Identities): what a manifest may ask for.

From vendor-docs/FACTS.md 4.1-4.2: a user is located by insider_id, email, phone_number
(E.164), uuid, or one custom identifier. Attributes go whole or by value (array
attributes), standard or custom; identifier attributes cannot be deleted that way and
go through the identity API instead, where the identifier locates its own user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.adapters.rules import (
    E164,
    Report,
    RowToEntry,
    allowed_keys,
    one_locator,
    require_header,
)
from reconciler.desired import Item
from reconciler.yamlsource import Path

VENDOR = "insider"
LOCATORS = ("insider_id", "email", "phone_number", "uuid", "custom")
IDENTIFIER_TYPES = ("email", "phone_number", "uuid")
CUSTOM_PREFIX = "custom."
# Attributes that are identifiers: the attribute-delete API refuses them.
IDENTIFIER_ATTRIBUTES = frozenset({"email", "phone_number", "uuid", "insider_id", "iid"})
REMOVALS = ("attributes", "attribute_values", "custom_attributes", "custom_attribute_values")


def _check_phone(value: Any, where: Path, report: Report) -> bool:
    if isinstance(value, str) and E164.fullmatch(value):
        return True
    report(where, f"{value!r} is not an E.164 phone number (e.g. +6598765432)")
    return False


def _identifier_locator(id_type: str, value: str) -> dict[str, Any]:
    if id_type.startswith(CUSTOM_PREFIX):
        return {"custom": {id_type[len(CUSTOM_PREFIX) :]: value}}
    return {id_type: value}


class InsiderRules:
    vendor = VENDOR

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        if spec.get("delete_profiles"):
            report(
                ("delete_profiles",),
                "insider targets remove attributes and identifiers, not whole profiles",
            )

    def _locator(self, profile: Mapping[str, Any], report: Report) -> dict[str, Any] | None:
        key = one_locator(profile, LOCATORS, VENDOR, report)
        if "prioritization" in profile:
            report(("profile", "prioritization"), "prioritization is a braze setting, not insider")
            return None
        if key is None:
            return None
        if key == "phone_number" and not _check_phone(profile[key], ("profile", key), report):
            return None
        return {key: profile[key]}

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        allowed_keys(entry, {"profile", "identifiers", *REMOVALS}, VENDOR, report)
        if not any(k in entry for k in ("identifiers", *REMOVALS)):
            report(
                (),
                "say what must be absent: attributes, attribute_values, custom_attributes, "
                "custom_attribute_values or identifiers",
            )
            return []
        items: list[Item] = []
        profile = entry.get("profile")
        wants_attributes = any(k in entry for k in REMOVALS)
        locator = None
        if profile is not None:
            locator = self._locator(profile, report)
        elif wants_attributes:
            report((), f"profile is required to remove attributes (one of {', '.join(LOCATORS)})")
        custom_ids = set(locator["custom"]) if locator and "custom" in locator else set()
        for field, custom in (("attributes", False), ("custom_attributes", True)):
            for i, name in enumerate(entry.get(field, [])):
                if self._deletable(name, custom, custom_ids, (field, i), report) and locator:
                    items.append(
                        Item(
                            target,
                            VENDOR,
                            locator,
                            {"kind": "attribute", "name": name, "custom": custom},
                        )
                    )
        for field, custom in (("attribute_values", False), ("custom_attribute_values", True)):
            for name, values in entry.get(field, {}).items():
                if not self._deletable(name, custom, custom_ids, (field, name), report):
                    continue
                for value in values:
                    if locator:
                        removal = {
                            "kind": "attribute_value",
                            "name": name,
                            "value": value,
                            "custom": custom,
                        }
                        items.append(Item(target, VENDOR, locator, removal))
        for i, ident in enumerate(entry.get("identifiers", [])):
            item = self._identifier_item(target, ident, ("identifiers", i), report)
            if item is not None:
                items.append(item)
        return items

    def _deletable(
        self, name: str, custom: bool, custom_ids: set[str], where: Path, report: Report
    ) -> bool:
        if not custom and name in IDENTIFIER_ATTRIBUTES:
            report(
                where,
                f"'{name}' is an identifier attribute: the attribute-delete API refuses it; "
                f"list it under identifiers: [{{type: {name}, value: ...}}] instead",
            )
            return False
        if custom and name in custom_ids:
            report(where, f"'{name}' is this user's custom identifier: list it under identifiers")
            return False
        return True

    def _identifier_item(
        self, target: str, ident: Mapping[str, Any], where: Path, report: Report
    ) -> Item | None:
        id_type, value = ident["type"], ident.get("value")
        ok = True
        if "all_values" in ident:
            report((*where, "all_values"), "insider deletes one named identifier value: give value")
            ok = False
        if value is None:
            report(where, "value is required for insider identifiers")
            return None
        custom_name = id_type[len(CUSTOM_PREFIX) :] if id_type.startswith(CUSTOM_PREFIX) else None
        if id_type not in IDENTIFIER_TYPES and not custom_name:
            report(
                (*where, "type"),
                f"unknown insider identifier type {id_type!r} "
                f"(use {', '.join(IDENTIFIER_TYPES)} or custom.<name>)",
            )
            ok = False
        if id_type == "phone_number" and not _check_phone(value, (*where, "value"), report):
            ok = False
        if not ok:
            return None
        return Item(
            target,
            VENDOR,
            _identifier_locator(id_type, value),
            {"kind": "identifier", "type": id_type, "value": value},
        )

    def csv_reader(self, header: list[str]) -> RowToEntry:
        locator_cols = [c for c in header if c in LOCATORS[:-1] or c.startswith(CUSTOM_PREFIX)]
        if header and set(header) == {"type", "value"}:
            return lambda row: {"identifiers": [{"type": row["type"], "value": row["value"]}]}
        shapes = [
            [loc, *rest]
            for loc in (locator_cols[:1] or ["email"])
            for rest in (
                ["attribute"],
                ["attribute", "value"],
                ["custom_attribute"],
                ["custom_attribute", "value"],
            )
        ]
        shape = require_header(header, [*shapes, ["type", "value"]], VENDOR)
        loc = shape[0]

        def locator(row: Mapping[str, str]) -> dict[str, Any]:
            if loc.startswith(CUSTOM_PREFIX):
                return {"custom": {loc[len(CUSTOM_PREFIX) :]: row[loc]}}
            return {loc: row[loc]}

        custom = "custom_attribute" in shape
        name_col = "custom_attribute" if custom else "attribute"
        if "value" in shape:
            field = "custom_attribute_values" if custom else "attribute_values"
            return lambda row: {"profile": locator(row), field: {row[name_col]: [row["value"]]}}
        field = "custom_attributes" if custom else "attributes"
        return lambda row: {"profile": locator(row), field: [row[name_col]]}

"""Insider (Delete User Attribute, Delete User Identities): what a manifest may ask for.

From reconciler/vendors/insider/FACTS.md §1 and §6: a user is located by insider_id,
email, phone_number (E.164), uuid, or one custom identifier. Attributes go whole or by
value (array attributes), standard or custom; identifier attributes cannot be deleted that
way and go through the identity API instead, where the identifier locates its own user.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item
from reconciler.masking import fragment, mask
from reconciler.values import E164, name_problem
from reconciler.vendors.api import CsvFormatError, Report, RowToCanonical, RowToEntry
from reconciler.vendors.kit import RulesDefaults, allowed_keys, one_locator, require_header
from reconciler.yamlsource import Path

VENDOR = "insider"
LOCATORS = ("insider_id", "email", "phone_number", "uuid", "custom")
IDENTIFIER_TYPES = ("email", "phone_number", "uuid")
CUSTOM_PREFIX = "custom."
# Attributes that are identifiers: the attribute-delete API refuses them.
IDENTIFIER_ATTRIBUTES = frozenset({"email", "phone_number", "uuid", "insider_id", "iid"})
REMOVALS = ("attributes", "attribute_values", "custom_attributes", "custom_attribute_values")

# The standard attributes the Delete User Attribute page documents, with their types
# (the page's "Body Parameters"; reconciler/vendors/insider/FACTS.md §6). Only arrays can
# lose one value (`partial`); list_id is a number array, so its values are sent as numbers.
STANDARD_ATTRIBUTES = {
    "email_optin": "boolean",
    "gdpr_optin": "boolean",
    "sms_optin": "boolean",
    "name": "string",
    "surname": "string",
    "birthday": "date",
    "gender": "string",
    "age": "number",
    "language": "string",
    "country": "string",
    "city": "string",
    "list_id": "number_array",
}
ARRAY_TYPES = ("string_array", "number_array")
# standard attributes whose values are Insider's own ids, not personal data: shown in plans
VENDOR_ID_ATTRIBUTES = frozenset({"list_id"})


def custom_attribute_types(declared: Sequence[Any]) -> dict[str, str | None]:
    """A target's `custom_attributes` setting: name -> type (None when not given)."""
    out: dict[str, str | None] = {}
    for entry in declared:
        if isinstance(entry, str):
            out[entry] = None
        else:
            out[entry["name"]] = entry.get("type")
    return out


def typed_value(value: Any, kind: str | None) -> tuple[Any, str | None]:
    """A value to remove from an array attribute, in the array's element type: numbers
    for a number array (a CSV cell "12" is the number 12), text for a string array.
    (value, None), or (value, why it cannot be converted)."""
    if kind == "number_array":
        if isinstance(value, bool):
            return value, "must be a number (the attribute is a number array)"
        if isinstance(value, int):
            return value, None
        if isinstance(value, float):
            return (int(value) if value.is_integer() else value), None
        if isinstance(value, str):
            try:
                number = float(value) if any(c in value for c in ".eE") else int(value)
            except ValueError:
                return value, f"{fragment(value)} is not a number (the attribute is a number array)"
            if isinstance(number, float):
                if not math.isfinite(number):
                    return value, "must be a finite number"
                number = int(number) if number.is_integer() else number
            return number, None
        return value, "must be a number (the attribute is a number array)"
    if kind == "string_array" and not isinstance(value, str):
        return value, "must be text (the attribute is a string array)"
    return value, None


def _check_phone(value: Any, where: Path, report: Report) -> bool:
    if isinstance(value, str) and E164.fullmatch(value):
        return True
    report(where, f"{mask(value)!r} is not an E.164 phone number (e.g. +6598765432)")
    return False


def _identifier_locator(id_type: str, value: str) -> dict[str, Any]:
    if id_type.startswith(CUSTOM_PREFIX):
        return {"custom": {id_type[len(CUSTOM_PREFIX) :]: value}}
    return {id_type: value}


class InsiderRules(RulesDefaults):
    vendor = VENDOR

    def __init__(self, custom: dict[str, str | None] | None = None) -> None:
        # the target's declared custom attributes (None: not declared, any name goes)
        self.custom = custom

    def for_target(self, settings: Mapping[str, Any]) -> InsiderRules:
        declared = settings.get("custom_attributes")
        return InsiderRules(custom_attribute_types(declared) if declared is not None else None)

    def _type_of(self, name: str, custom: bool) -> str | None:
        if not custom:
            return STANDARD_ATTRIBUTES.get(name)
        return (self.custom or {}).get(name)

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
        if key == "custom":
            ok = True
            for name in profile[key]:
                problem = name_problem(name)
                if problem:
                    report(("profile", key, name), f"custom identifier name {problem}")
                    ok = False
            if not ok:
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
                kind = self._type_of(name, custom)
                if kind is not None and kind not in ARRAY_TYPES:
                    report(
                        (field, name),
                        f"'{name}' is a {kind} attribute, not an array: only an array loses one "
                        f"value; remove the whole attribute with "
                        f"{'custom_attributes' if custom else 'attributes'}: [{name}]",
                    )
                    continue
                for j, raw in enumerate(values):
                    value, why = typed_value(raw, kind)
                    if why is not None:
                        report((field, name, j), why)
                        continue
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
        problem = name_problem(name)
        if problem:
            report(where, f"{'custom ' if custom else ''}attribute name {problem}")
            return False
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
        known = self.custom if custom else STANDARD_ATTRIBUTES
        if known is not None and name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            if custom:
                report(
                    where,
                    f"{fragment(name)} is not one of the target's custom_attributes in "
                    f"reconciler.yaml{hint}",
                )
            else:
                report(
                    where,
                    f"{fragment(name)} is not a standard Insider attribute{hint} (a custom "
                    "attribute goes under custom_attributes / custom_attribute_values)",
                )
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
        name_wrong = name_problem(custom_name) if custom_name is not None else None
        if custom_name == "":
            report(
                (*where, "type"),
                "custom identifier type needs a name after 'custom.' (custom.<name>, "
                "e.g. custom.loyalty_id)",
            )
            ok = False
        elif name_wrong:
            report((*where, "type"), f"custom identifier name {name_wrong}")
            ok = False
        elif id_type not in IDENTIFIER_TYPES and custom_name is None:
            report(
                (*where, "type"),
                f"unknown insider identifier type {fragment(id_type)} "
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

    def manifest_checker(self, entries: Sequence[Mapping[str, Any]]) -> LocatorConflicts | None:
        """Only a manifest that both deletes identifiers and removes attributes is checked."""
        deletes = any("identifiers" in entry for entry in entries)
        removes = any(key in entry for entry in entries for key in REMOVALS)
        return LocatorConflicts() if deletes and removes else None

    def csv_column(self, path: Path) -> str | None:
        # a row's entry holds its attribute cell under these keys (see csv_reader)
        if path and path[0] in ATTRIBUTE_COLUMNS:
            return ATTRIBUTE_COLUMNS[str(path[0])]
        return None

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        """A row's canonical bytes without its entry, Item or JSON encoder, for the
        whole-attribute shapes (a locator column with `attribute` or `custom_attribute`,
        the bulk of large removals): the row makes one attribute removal unless `items`
        (or the loader's value check: an email needs an @) would report a problem with
        it. Other shapes take the general path."""
        if "value" in header or "type" in header:
            return None
        custom = "custom_attribute" in header
        name_col = header.index("custom_attribute" if custom else "attribute")
        (loc,) = (c for c in header if c not in ("attribute", "custom_attribute"))
        loc_col = header.index(loc)
        if loc.startswith(CUSTOM_PREFIX):
            id_name = loc[len(CUSTOM_PREFIX) :]
            start = f'[{encode_basestring(target)},{{"custom":{{{encode_basestring(id_name)}:'
            close = "}}"
            custom_ids = {id_name}
        else:
            id_name, custom_ids = loc, set()
            start, close = f"[{encode_basestring(target)},{{{encode_basestring(loc)}:", "}"
        flag = "true" if custom else "false"
        removals: dict[str, str | None] = {}  # an attribute cell -> its removal's JSON

        def removal(name: str) -> str | None:
            found = removals.get(name, "")
            if found == "":
                ok = self._deletable(name, custom, custom_ids, (), lambda p, m: None)
                found = removals[name] = (
                    f'{{"custom":{flag},"kind":"attribute","name":{encode_basestring(name)}}}]'
                    if ok
                    else None
                )
            return found

        def canonical(cells: list[str]) -> bytes | None:
            value, tail = cells[loc_col], removal(cells[name_col])
            if tail is None:
                return None  # items reports why
            if id_name == "email" and "@" not in value:
                return None
            if loc == "phone_number" and not E164.fullmatch(value):
                return None
            return f"{start}{encode_basestring(value)}{close},{tail}".encode()

        return canonical

    def csv_reader(self, header: list[str]) -> RowToEntry:
        locator_cols = [c for c in header if c in LOCATORS[:-1] or c.startswith(CUSTOM_PREFIX)]
        for col in locator_cols:
            if col.startswith(CUSTOM_PREFIX):
                problem = name_problem(col[len(CUSTOM_PREFIX) :])
                if problem:
                    raise CsvFormatError(
                        f"column {fragment(col)}: custom identifier name {problem}"
                    )
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


ATTRIBUTE_COLUMNS = {
    "attributes": "attribute",
    "attribute_values": "attribute",
    "custom_attributes": "custom_attribute",
    "custom_attribute_values": "custom_attribute",
}
MAX_CONFLICTS = 50
_Key = tuple[Any, ...]  # ("email", value) or ("custom", (name, value))


def _identifier_name(locator: Mapping[str, Any]) -> str:
    """The identifier a locator uses, by name only (never its value)."""
    [(key, value)] = locator.items()
    if key == "custom" and isinstance(value, Mapping):
        return f"custom identifier {next(iter(value), '')}"
    return key


class LocatorConflicts:
    """Within one manifest: an identifier deleted, and attributes removed from the user
    that the same identifier locates.

    An identifier delete (`identifiers: [{type: email, value: X}]`) and an attribute
    delete located by it (`profile: {email: X}`) cannot both be done from one apply:
    once the identifier is gone, the attribute delete can no longer find the user (and
    within one apply the order is not the manifest's). Kept per manifest: the locator
    of each deleted identifier, and of each user attributes are removed from, with
    where each was first declared.
    """

    def __init__(self) -> None:
        self._deleted: dict[_Key, int] = {}  # identifier locator -> where first deleted
        self._located: dict[_Key, int] = {}  # attribute-delete locator -> where first used
        self._found: list[tuple[int, int, str]] = []  # (attribute where, identifier where, name)
        self._reported: set[_Key] = set()
        self.more = 0

    def add(self, item: Item, where: int) -> None:
        locator = item.locator
        if len(locator) != 1 or "insider_id" in locator:
            return  # insider_id is never an identifier we delete
        [(kind, value)] = locator.items()
        key: _Key = (kind, *value.items()) if isinstance(value, dict) else (kind, value)
        if item.removal.get("kind") == "identifier":
            self._deleted.setdefault(key, where)
            other = self._located.get(key)
            if other is not None:
                self._conflict(key, other, where, locator)
        else:
            self._located.setdefault(key, where)
            other = self._deleted.get(key)
            if other is not None:
                self._conflict(key, where, other, locator)

    def _conflict(
        self, key: _Key, attribute: int, identifier: int, locator: Mapping[str, Any]
    ) -> None:
        if key in self._reported:
            return
        self._reported.add(key)
        if len(self._found) < MAX_CONFLICTS:
            self._found.append((attribute, identifier, _identifier_name(locator)))
        else:
            self.more += 1

    def problems(self, describe: Callable[[int], str]) -> Iterator[tuple[int | None, str]]:
        for attribute, identifier, name in self._found:
            yield (
                attribute,
                f"this user is located by the {name} that is deleted as an identifier at "
                f"{describe(identifier)}, in the same manifest: once the identifier is deleted, "
                "the attribute delete can no longer find the user. Split them into two "
                "manifests applied one after the other: first remove the attributes, then "
                "delete the identifier",
            )
        if self.more:
            yield None, f"... and {self.more} more users whose identifier is deleted too"

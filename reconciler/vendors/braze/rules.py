"""Braze (`POST /users/delete`): what a manifest may ask for.

From reconciler/vendors/braze/FACTS.md §1 and §6: Braze removes an identifier only by
deleting the whole user, so a manifest must opt in with `spec.delete_profiles: true`. A
user is named by exactly one of external_id, braze_id, user_alias, email or phone; email
and phone need an ordered `prioritization` from identified / unidentified /
most_recently_updated, never both identified and unidentified.
"""

from __future__ import annotations

from collections.abc import Mapping
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item
from reconciler.masking import fragment
from reconciler.values import E164
from reconciler.vendors.api import (
    CsvFormatError,
    Report,
    RowToCanonical,
    RowToEntry,
)
from reconciler.vendors.kit import RulesDefaults, allowed_keys, one_locator, require_header

VENDOR = "braze"
LOCATORS = ("external_id", "braze_id", "user_alias", "email", "phone")
NEEDS_PRIORITIZATION = ("email", "phone")
PRIORITIES = ("identified", "unidentified", "most_recently_updated")


def check_prioritization(value: Any, report: Report) -> bool:
    if not isinstance(value, list) or not value:
        report(
            ("profile", "prioritization"), f"must be a non-empty list of {', '.join(PRIORITIES)}"
        )
        return False
    ok = True
    for v in value:
        if v not in PRIORITIES:
            report(
                ("profile", "prioritization"),
                f"unknown value {fragment(v)} (use {', '.join(PRIORITIES)})",
            )
            ok = False
    if len(set(value)) != len(value):
        report(("profile", "prioritization"), "must not repeat a value")
        ok = False
    if "identified" in value and "unidentified" in value:
        report(
            ("profile", "prioritization"),
            "only one of identified and unidentified may appear (Braze rule)",
        )
        ok = False
    return ok


class BrazeRules(RulesDefaults):
    vendor = VENDOR

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        if spec.get("delete_profiles") is not True:
            report(
                (),
                "braze removes data only by deleting the whole user profile (irreversible): "
                "set spec.delete_profiles: true to say so",
            )

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        allowed_keys(entry, {"profile"}, VENDOR, report)
        profile = entry.get("profile")
        if profile is None:
            report((), f"profile is required for braze targets (one of {', '.join(LOCATORS)})")
            return []
        key = one_locator(profile, LOCATORS, VENDOR, report)
        ok = key is not None
        priority = profile.get("prioritization")
        if key in NEEDS_PRIORITIZATION:
            if priority is None:
                report(
                    ("profile",),
                    f"prioritization is required when deleting by {key} "
                    "(e.g. [unidentified, most_recently_updated])",
                )
                ok = False
            else:
                ok = check_prioritization(priority, report) and ok
        elif priority is not None and key is not None:
            report(
                ("profile", "prioritization"),
                f"prioritization applies only to email and phone, not {key}",
            )
            ok = False
        if key == "phone" and not (isinstance(profile[key], str) and E164.fullmatch(profile[key])):
            # /users/export/ids takes `phone` "in E.164 format", and the delete entry
            # follows it: a number in another format would match nobody, or the wrong
            # user. Stricter than the delete page, which shows no phone example
            # (reconciler/vendors/braze/FACTS.md §3, §7).
            report(("profile", "phone"), f"{fragment(profile[key])} is not an E.164 phone number")
            ok = False
        if not ok or key is None:
            return []
        locator: dict[str, Any] = {key: profile[key]}
        if key in NEEDS_PRIORITIZATION:
            locator["prioritization"] = list(priority)
        return [Item(target, VENDOR, locator, {"kind": "profile"})]

    def csv_reader(self, header: list[str]) -> RowToEntry:
        shape = require_header(
            header,
            [
                ["external_id"],
                ["braze_id"],
                ["alias_name", "alias_label"],
                ["email", "prioritization"],
                ["phone", "prioritization"],
            ],
            VENDOR,
        )
        if shape == ["alias_name", "alias_label"]:
            return lambda row: {
                "profile": {
                    "user_alias": {
                        "alias_name": row["alias_name"],
                        "alias_label": row["alias_label"],
                    }
                }
            }
        key = shape[0]
        if key in NEEDS_PRIORITIZATION:
            # prioritization is one cell, space-separated: "unidentified most_recently_updated"
            return lambda row: {
                "profile": {key: row[key], "prioritization": row["prioritization"].split()}
            }
        if key not in LOCATORS:  # pragma: no cover - shapes above are all locators
            raise CsvFormatError(f"unknown locator {key}")
        return lambda row: {"profile": {key: row[key]}}

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        """A row's canonical bytes without its entry, Item or JSON encoder, for every CSV
        shape: the row makes one profile removal unless `items` (or the loader's value
        check: an email needs an @) would report a problem with it."""
        head = f"[{encode_basestring(target)},{{"
        tail = '},{"kind":"profile"}]'
        if "alias_name" in header:  # the header fits (csv_reader): alias_name,alias_label
            name_col, label_col = header.index("alias_name"), header.index("alias_label")

            def alias(cells: list[str]) -> bytes | None:
                return (
                    f'{head}"user_alias":{{"alias_label":{encode_basestring(cells[label_col])},'
                    f'"alias_name":{encode_basestring(cells[name_col])}}}{tail}'
                ).encode()

            return alias
        key = header[0] if len(header) == 1 else next(k for k in header if k != "prioritization")
        col = header.index(key)
        start = f"{head}{encode_basestring(key)}:"
        if key not in NEEDS_PRIORITIZATION:

            def by_id(cells: list[str]) -> bytes | None:
                return f"{start}{encode_basestring(cells[col])}{tail}".encode()

            return by_id
        priority_col = header.index("prioritization")
        lists: dict[str, str | None] = {}  # a prioritization cell -> its JSON, None if wrong

        def priorities(cell: str) -> str | None:
            found = lists.get(cell, "")
            if found == "":
                value = cell.split()
                ok = check_prioritization(value, lambda p, m: None)
                found = lists[cell] = (
                    "[" + ",".join(encode_basestring(v) for v in value) + "]" if ok else None
                )
            return found

        def by_contact(cells: list[str]) -> bytes | None:
            value, order = cells[col], priorities(cells[priority_col])
            if order is None:
                return None  # items reports why
            if key == "email" and "@" not in value:
                return None
            if key == "phone" and not E164.fullmatch(value):
                return None
            return f'{start}{encode_basestring(value)},"prioritization":{order}{tail}'.encode()

        return by_contact

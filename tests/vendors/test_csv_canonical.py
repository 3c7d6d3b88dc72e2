"""`csv_canonical`, the fast path for CSV rows: byte-identical to the general path."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from reconciler.values import CONTROL, item_value_problems, lookalike_problem
from reconciler.vendors.kit import RulesDefaults
from tests.vendors._helpers import RULES

HEADERS = {
    "segment": [["user_id", "type", "value"]],
    "braze": [
        ["external_id"],
        ["braze_id"],
        ["alias_name", "alias_label"],
        ["email", "prioritization"],
        ["phone", "prioritization"],
    ],
    "twilio_memory": [["profile_id", "type"]],
    "insider": [
        [loc, name]
        for loc in (
            "email",
            "insider_id",
            "uuid",
            "phone_number",
            "custom.loyalty_id",
            "custom.email",
        )
        for name in ("attribute", "custom_attribute")
    ],
}
# the header shapes a vendor leaves to the general path
GENERAL_ONLY = {"insider": [["email", "attribute", "value"], ["type", "value"]]}
MEMORY_ID = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"
CELLS = {
    "user_id": ["u_1", "u_00000001", "user_id", "+15555550100", "jane@example.com"],
    "type": ["email", "phone", "user_id", "group_id", "anonymous_id", "ios.idfa", "Email", "a"],
    "value": ["u_1", "jane@old-domain.example", "+15555550100", "user_id", "email"],
    "external_id": ["ext-1", "jane@example.com", "u_1"],
    "braze_id": ["5f3c0e6a9b1d2c0012345678", "x"],
    "alias_name": ["lt-visitor-17", "jane"],
    "alias_label": ["load_test", "crm"],
    "email": ["jane@example.com", "jane", "j@old-domain.example"],
    "phone": ["+15555550100", "5555550100", "+1 555"],
    "phone_number": ["+6598765432", "6598765432"],
    "prioritization": [
        "unidentified most_recently_updated",
        "identified",
        "most_recently_updated",
        "identified unidentified",
        "identified identified",
        "nobody",
        "most_recently_updated unidentified",
    ],
    "profile_id": [MEMORY_ID, MEMORY_ID.upper(), "mem_profile_91h8x3k9q2w7e5r4t6y8u0i2o5", "p"],
    "insider_id": ["iid_1", "x"],
    "uuid": ["0b7f3a62-1c2d-4e5f-8a9b-0c1d2e3f4a5b"],
    "custom.loyalty_id": ["L-1", "jane@example.com"],
    "custom.email": ["jane@example.com", "jane"],
    "attribute": ["name", "surname", "list_id", "email", "iid", "nmae", "email_optin"],
    "custom_attribute": ["favourite_store", "interests", "loyalty_id", "email", "unknown_one"],
}
# Insider as a target that declares its custom attributes (and so checks their names)
TARGET_RULES = {
    "insider": RULES["insider"].for_target({"custom_attributes": ["favourite_store", "interests"]})
}


def rules_of(vendor: str) -> Any:
    return TARGET_RULES.get(vendor, RULES[vendor])


ALPHABET = "abcXYZ019_.-+/@%é\"\\\u2028\u00a0ü😀,' "


def random_cell(rng: random.Random, column: str) -> str:
    if rng.random() < 0.5:
        return rng.choice(CELLS[column])
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24))).strip()
    return text or "x"


def general(vendor: str, target: str, header: list[str], cells: list[str]) -> Any:
    """(canonical bytes of each item, problems) the general path makes of a row."""
    rules = rules_of(vendor)
    entry = rules.csv_reader(header)(dict(zip(header, cells, strict=True)))
    problems: list[str] = []
    items = rules.items(target, entry, lambda p, m: problems.append(m))
    # the loader's check of every value (spaces, emails, look-alikes) comes after
    problems += [why for item in items for _, why in item_value_problems(item)]
    return [i.canonical() for i in items], problems


@pytest.mark.parametrize("vendor", sorted(HEADERS))
def test_fast_canonical_matches_the_general_path(vendor: str) -> None:
    rng = random.Random(f"csv-canonical-{vendor}")
    rules = rules_of(vendor)
    fast_rows = taken = 0
    for shape in HEADERS[vendor]:
        for header in itertools.permutations(shape):
            columns = list(header)
            canonical_of = rules.csv_canonical("tgt-é", columns)
            assert canonical_of is not None, columns
            for _ in range(4000 // len(HEADERS[vendor]) + 400):
                cells = [random_cell(rng, c) for c in columns]
                assert not CONTROL.search("".join(cells))
                if any(lookalike_problem(c) for c in cells):
                    continue  # refused per cell before any path sees the row (csvsource)
                fast = canonical_of(cells)
                canonicals, problems = general(vendor, "tgt-é", columns, cells)
                fast_rows += 1
                if fast is None:
                    assert problems, cells  # only rows the general path reports on
                else:
                    taken += 1
                    assert problems == [], cells
                    assert canonicals == [fast], cells
    # the random rows exercise both ways
    assert fast_rows // 20 < taken < fast_rows - fast_rows // 20


@pytest.mark.parametrize("vendor", sorted(GENERAL_ONLY))
def test_shapes_left_to_the_general_path(vendor: str) -> None:
    for header in GENERAL_ONLY[vendor]:
        assert rules_of(vendor).csv_canonical("t", header) is None


def test_a_vendor_without_a_fast_path_says_so() -> None:
    # every installed vendor has one now (the OpenDSR plugin's own suite tests its);
    # a vendor built on the kit's defaults has none and takes the general path
    assert RulesDefaults().csv_canonical("t", ["a"]) is None


@pytest.mark.parametrize("vendor", sorted(set(RULES) - set(HEADERS)))
def test_other_installed_vendors_are_tested_in_their_own_suites(vendor: str) -> None:
    assert vendor == "opendsr"  # plugins/reconciler-opendsr/tests/test_opendsr_csv.py

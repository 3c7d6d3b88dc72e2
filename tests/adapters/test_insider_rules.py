"""Insider: attributes by a located user; identifiers locate themselves; E.164 phones."""

from __future__ import annotations

import pytest

from reconciler.adapters import RULES
from reconciler.adapters.rules import CsvFormatError
from reconciler.desired import Item
from tests.adapters._helpers import check, check_spec

INS = RULES["insider"]


def test_attributes_and_values_become_one_item_each() -> None:
    items, problems = check(
        INS,
        {
            "profile": {"uuid": "u-1"},
            "attributes": ["name"],
            "attribute_values": {"list_id": [1, "two"]},
            "custom_attributes": ["tier"],
            "custom_attribute_values": {"tags": [True]},
        },
        target="ins",
    )
    assert problems == []
    loc = {"uuid": "u-1"}
    assert items == [
        Item("ins", "insider", loc, {"kind": "attribute", "name": "name", "custom": False}),
        Item("ins", "insider", loc, {"kind": "attribute", "name": "tier", "custom": True}),
        Item(
            "ins",
            "insider",
            loc,
            {"kind": "attribute_value", "name": "list_id", "value": 1, "custom": False},
        ),
        Item(
            "ins",
            "insider",
            loc,
            {"kind": "attribute_value", "name": "list_id", "value": "two", "custom": False},
        ),
        Item(
            "ins",
            "insider",
            loc,
            {"kind": "attribute_value", "name": "tags", "value": True, "custom": True},
        ),
    ]


def test_identifiers_locate_their_own_user_even_next_to_a_profile() -> None:
    items, problems = check(
        INS,
        {
            "profile": {"insider_id": "iid"},
            "attributes": ["city"],
            "identifiers": [
                {"type": "email", "value": "old@example.com"},
                {"type": "custom.loyalty_id", "value": "LY-1"},
            ],
        },
        target="ins",
    )
    assert problems == []
    assert [(i.locator, i.removal) for i in items] == [
        ({"insider_id": "iid"}, {"kind": "attribute", "name": "city", "custom": False}),
        (
            {"email": "old@example.com"},
            {"kind": "identifier", "type": "email", "value": "old@example.com"},
        ),
        (
            {"custom": {"loyalty_id": "LY-1"}},
            {"kind": "identifier", "type": "custom.loyalty_id", "value": "LY-1"},
        ),
    ]


@pytest.mark.parametrize("attr", ["email", "phone_number", "uuid", "insider_id", "iid"])
def test_identifier_attributes_cannot_go_through_the_attribute_api(attr) -> None:
    items, problems = check(INS, {"profile": {"uuid": "u"}, "attributes": [attr]})
    assert items == []
    [(where, message)] = problems
    assert where == ("attributes", 0)
    assert "identifier attribute" in message and f"type: {attr}" in message


@pytest.mark.parametrize(
    ("entry", "where", "fragment"),
    [
        (
            {"profile": {"phone_number": "0098765432"}, "attributes": ["name"]},
            ("profile", "phone_number"),
            "not an E.164",
        ),
        (
            {"profile": {"phone_number": "+6598765432\n"}, "attributes": ["name"]},
            ("profile", "phone_number"),
            "not an E.164",
        ),
        (
            {"profile": {"phone_number": "+0123456789"}, "attributes": ["name"]},
            ("profile", "phone_number"),
            "not an E.164",
        ),
        (
            {"profile": {"uuid": "u"}, "attribute_values": {"email": ["a"]}},
            ("attribute_values", "email"),
            "identifier attribute",
        ),
        (
            {"profile": {"custom": {"loyalty_id": "L"}}, "custom_attributes": ["loyalty_id"]},
            ("custom_attributes", 0),
            "custom identifier",
        ),
        (
            {
                "profile": {"custom": {"loyalty_id": "L"}},
                "custom_attribute_values": {"loyalty_id": ["L"]},
            },
            ("custom_attribute_values", "loyalty_id"),
            "custom identifier",
        ),
        (
            {"identifiers": [{"type": "fax", "value": "1"}]},
            ("identifiers", 0, "type"),
            "unknown insider identifier type",
        ),
        (
            {"identifiers": [{"type": "custom.", "value": "1"}]},
            ("identifiers", 0, "type"),
            "custom.<name>",
        ),
        (
            {"identifiers": [{"type": "phone_number", "value": "98765432"}]},
            ("identifiers", 0, "value"),
            "not an E.164",
        ),
        ({"identifiers": [{"type": "email"}]}, ("identifiers", 0), "value is required"),
        (
            {"identifiers": [{"type": "email", "value": "a", "all_values": True}]},
            ("identifiers", 0, "all_values"),
            "one named identifier value",
        ),
        ({"attributes": ["name"]}, (), "profile is required to remove attributes"),
        ({"profile": {"uuid": "u"}}, (), "say what must be absent"),
        (
            {"profile": {"uuid": "u", "email": "e"}, "attributes": ["name"]},
            ("profile",),
            "exactly one",
        ),
        (
            {"profile": {"external_id": "e"}, "attributes": ["name"]},
            ("profile", "external_id"),
            "cannot locate",
        ),
        (
            {"profile": {"email": "e", "prioritization": ["identified"]}, "attributes": ["name"]},
            ("profile", "prioritization"),
            "braze setting",
        ),
    ],
)
def test_rule_breaks_are_reported_and_yield_no_item(entry, where, fragment) -> None:
    items, problems = check(INS, entry)
    assert items == []
    matching = [m for p, m in problems if p == where]
    assert any(fragment in m for m in matching), problems


@pytest.mark.parametrize("phone", ["+6598765432", "+15555550100", "+4930123456"])
def test_e164_phones_are_accepted(phone) -> None:
    items, problems = check(INS, {"identifiers": [{"type": "phone_number", "value": phone}]})
    assert problems == []
    assert items[0].locator == {"phone_number": phone}


def test_delete_profiles_is_refused() -> None:
    [(where, _)] = check_spec(INS, {"delete_profiles": True})
    assert where == ("delete_profiles",)


@pytest.mark.parametrize(
    ("header", "row", "entry"),
    [
        (
            ["email", "attribute"],
            {"email": "a", "attribute": "name"},
            {"profile": {"email": "a"}, "attributes": ["name"]},
        ),
        (
            ["attribute", "value", "uuid"],
            {"uuid": "u", "attribute": "list_id", "value": "3"},
            {"profile": {"uuid": "u"}, "attribute_values": {"list_id": ["3"]}},
        ),
        (
            ["phone_number", "custom_attribute"],
            {"phone_number": "+6598765432", "custom_attribute": "tier"},
            {"profile": {"phone_number": "+6598765432"}, "custom_attributes": ["tier"]},
        ),
        (
            ["custom.loyalty_id", "custom_attribute", "value"],
            {"custom.loyalty_id": "L", "custom_attribute": "tags", "value": "x"},
            {
                "profile": {"custom": {"loyalty_id": "L"}},
                "custom_attribute_values": {"tags": ["x"]},
            },
        ),
        (
            ["value", "type"],
            {"type": "email", "value": "a"},
            {"identifiers": [{"type": "email", "value": "a"}]},
        ),
    ],
)
def test_csv_shapes(header, row, entry) -> None:
    assert INS.csv_reader(header)(row) == entry


@pytest.mark.parametrize("header", [["attribute"], ["email", "name"], ["user_id", "attribute"]])
def test_csv_header_that_fits_no_shape_is_refused(header) -> None:
    with pytest.raises(CsvFormatError, match="does not fit a insider target"):
        INS.csv_reader(header)

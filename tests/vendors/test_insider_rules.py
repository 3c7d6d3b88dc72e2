"""Insider: attributes by a located user; identifiers locate themselves; E.164 phones."""

from __future__ import annotations

import pytest

from reconciler.desired import Item
from reconciler.vendors.api import CsvFormatError
from tests.vendors._helpers import RULES, check, check_spec

INS = RULES["insider"]


def test_attributes_and_values_become_one_item_each() -> None:
    items, problems = check(
        INS,
        {
            "profile": {"uuid": "u-1"},
            "attributes": ["name"],
            "attribute_values": {"list_id": [1, "2"]},
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
            # a number array's values are numbers, "2" as written in YAML or a CSV included
            {"kind": "attribute_value", "name": "list_id", "value": 2, "custom": False},
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


# -- names: custom identifier names and attribute names ---------------------------------------


@pytest.mark.parametrize(
    ("entry", "where", "message"),
    [
        (
            {"profile": {"custom": {"": "L1"}}, "attributes": ["name"]},
            ("profile", "custom", ""),
            "custom identifier name must not be empty or only spaces",
        ),
        (
            {"profile": {"custom": {" \t": "L1"}}, "attributes": ["name"]},
            ("profile", "custom", " \t"),
            "custom identifier name must not be empty or only spaces",
        ),
        (
            {"profile": {"custom": {"loyalty_id ": "L1"}}, "attributes": ["name"]},
            ("profile", "custom", "loyalty_id "),
            "custom identifier name has leading or trailing spaces (names are compared exactly)",
        ),
        (
            {"identifiers": [{"type": "custom.", "value": "L1"}]},
            ("identifiers", 0, "type"),
            "custom identifier type needs a name after 'custom.' (custom.<name>, "
            "e.g. custom.loyalty_id)",
        ),
        (
            {"identifiers": [{"type": "custom.  ", "value": "L1"}]},
            ("identifiers", 0, "type"),
            "custom identifier name must not be empty or only spaces",
        ),
        (
            {"identifiers": [{"type": "custom.loyalty\x00id", "value": "L1"}]},
            ("identifiers", 0, "type"),
            "custom identifier name contains a control character (U+0000)",
        ),
        (
            {"profile": {"uuid": "u"}, "custom_attributes": ["  "]},
            ("custom_attributes", 0),
            "custom attribute name must not be empty or only spaces",
        ),
        (
            {"profile": {"uuid": "u"}, "custom_attribute_values": {"": ["x"]}},
            ("custom_attribute_values", ""),
            "custom attribute name must not be empty or only spaces",
        ),
        (
            {"profile": {"uuid": "u"}, "attributes": [" name"]},
            ("attributes", 0),
            "attribute name has leading or trailing spaces (names are compared exactly)",
        ),
        (
            {"profile": {"uuid": "u"}, "attribute_values": {"list\x1bid": [1]}},
            ("attribute_values", "list\x1bid"),
            "attribute name contains a control character (U+001B)",
        ),
    ],
)
def test_empty_or_odd_names_are_refused(entry, where, message) -> None:
    items, problems = check(INS, entry)
    assert items == []
    assert [p for p, _ in problems] == [where], problems
    assert problems[0][1].startswith(message), problems


def test_a_bad_name_does_not_drop_the_good_attributes() -> None:
    items, problems = check(INS, {"profile": {"uuid": "u"}, "custom_attributes": ["tier", ""]})
    assert [p for p, _ in problems] == [("custom_attributes", 1)]
    assert [i.removal["name"] for i in items] == ["tier"]


@pytest.mark.parametrize("column", ["custom.", "custom. ", "custom.a\x00b"])
def test_csv_custom_locator_column_needs_a_name(column) -> None:
    with pytest.raises(CsvFormatError, match="custom identifier name"):
        INS.csv_reader([column, "attribute"])


def test_phone_messages_show_the_value_masked() -> None:
    from reconciler.masking import mask

    raw = "44556677"
    _, [(_, in_locator)] = check(INS, {"profile": {"phone_number": raw}, "attributes": ["name"]})
    _, [(_, in_identifier)] = check(INS, {"identifiers": [{"type": "phone_number", "value": raw}]})
    for message in (in_locator, in_identifier):
        assert message == f"{mask(raw)!r} is not an E.164 phone number (e.g. +6598765432)"
        assert raw not in message


# -- one manifest may not delete an identifier that locates a user it removes attributes from --


def ins_items(entry: dict) -> list[Item]:
    items, problems = check(INS, entry, target="ins")
    assert problems == []
    return items


def conflicts(*groups: tuple[int, dict]) -> list[tuple[int | None, str]]:
    """Feed each entry's items at `where`; the checker's problems, places shown as `@<n>`."""
    checker = INS.manifest_checker([entry for _, entry in groups])
    assert checker is not None
    for where, entry in groups:
        for item in ins_items(entry):
            checker.add(item, where)
    return list(checker.problems(lambda where: f"@{where}"))


def test_identifier_deleted_and_locating_attributes_is_refused_at_the_attributes() -> None:
    found = conflicts(
        (1, {"profile": {"email": "a@x"}, "attributes": ["name", "city"]}),
        (2, {"identifiers": [{"type": "email", "value": "a@x"}]}),
    )
    assert found == [
        (
            1,
            "this user is located by the email that is deleted as an identifier at @2, in the "
            "same manifest: once the identifier is deleted, the attribute delete can no longer "
            "find the user. Split them into two manifests applied one after the other: first "
            "remove the attributes, then delete the identifier",
        )
    ]


def test_the_order_of_the_entries_does_not_matter() -> None:
    found = conflicts(
        (7, {"identifiers": [{"type": "custom.loyalty_id", "value": "L1"}]}),
        (8, {"profile": {"custom": {"loyalty_id": "L1"}}, "custom_attribute_values": {"t": [1]}}),
    )
    assert [(where, "custom identifier loyalty_id that is deleted" in m) for where, m in found] == [
        (8, True)
    ]
    assert "@7" in found[0][1]


@pytest.mark.parametrize(
    ("attributes_of", "deleted"),
    [
        ({"email": "a@x"}, {"type": "email", "value": "b@x"}),  # another user
        ({"email": "a@x"}, {"type": "uuid", "value": "a@x"}),  # same text, other identifier
        ({"phone_number": "+6598765432"}, {"type": "email", "value": "a@x"}),
        ({"insider_id": "a@x"}, {"type": "email", "value": "a@x"}),
        ({"custom": {"loyalty_id": "L1"}}, {"type": "custom.member_id", "value": "L1"}),
    ],
)
def test_other_identifiers_do_not_conflict(attributes_of, deleted) -> None:
    found = conflicts(
        (1, {"profile": attributes_of, "attributes": ["name"]}),
        (2, {"identifiers": [deleted]}),
    )
    assert found == []


def test_each_user_is_reported_once_and_the_rest_are_counted() -> None:
    from reconciler.vendors.insider.rules import MAX_CONFLICTS

    users = [f"u{i}@x" for i in range(MAX_CONFLICTS + 3)]
    groups = [
        (i, {"profile": {"email": u}, "attributes": ["name", "city"]}) for i, u in enumerate(users)
    ]
    groups += [
        (1000 + i, {"identifiers": [{"type": "email", "value": u}]}) for i, u in enumerate(users)
    ]
    groups += [(2000, {"identifiers": [{"type": "email", "value": users[0]}]})]  # again
    found = conflicts(*groups)
    assert len(found) == MAX_CONFLICTS + 1
    assert [where for where, _ in found[:-1]] == list(range(MAX_CONFLICTS))
    assert found[-1] == (None, "... and 3 more users whose identifier is deleted too")


def test_other_vendors_have_no_manifest_checker() -> None:
    entries = [{"profile": {"user_id": "u"}, "identifiers": [{"type": "email", "value": "a"}]}]
    for vendor in ("segment", "braze", "twilio_memory"):
        assert RULES[vendor].manifest_checker(entries) is None


@pytest.mark.parametrize(
    ("entries", "checked"),
    [
        ([{"profile": {"email": "a"}, "attributes": ["n"]}], False),
        ([{"identifiers": [{"type": "email", "value": "a"}]}], False),
        ([{"profile": {"email": "a"}, "attributes": ["n"]}, {"identifiers": []}], True),
        ([{"custom_attribute_values": {}, "identifiers": []}], True),
        ([], False),
    ],
)
def test_only_a_manifest_with_identifiers_and_attributes_is_checked(entries, checked) -> None:
    assert (INS.manifest_checker(entries) is not None) is checked

"""Segment: profiles only by user_id, one named identifier per item, never group_id."""

from __future__ import annotations

import pytest

from reconciler.desired import Item
from reconciler.vendors.api import CsvFormatError
from tests.vendors._helpers import RULES, check, check_spec, paths

SEG = RULES["segment"]


def test_each_identifier_is_one_item_on_the_user_id_profile() -> None:
    items, problems = check(
        SEG,
        {
            "profile": {"user_id": "u_1"},
            "identifiers": [
                {"type": "email", "value": "a@example.com"},
                {"type": "user_id", "value": "u_1_old"},
            ],
        },
        target="seg",
    )
    assert problems == []
    assert items == [
        Item(
            "seg",
            "segment",
            {"user_id": "u_1"},
            {"kind": "identifier", "type": "email", "value": "a@example.com"},
        ),
        Item(
            "seg",
            "segment",
            {"user_id": "u_1"},
            {"kind": "identifier", "type": "user_id", "value": "u_1_old"},
        ),
    ]


@pytest.mark.parametrize(
    ("entry", "where", "fragment"),
    [
        (
            {"profile": {"email": "a@x"}, "identifiers": [{"type": "email", "value": "b"}]},
            ("profile", "email"),
            "only by user_id",
        ),
        (
            {"profile": {"email": "a@x"}, "identifiers": [{"type": "email", "value": "b"}]},
            ("profile",),
            "user_id is required",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "group_id", "value": "g"}]},
            ("identifiers", 0, "type"),
            "never deletes group_id",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "user_id", "value": "u"}]},
            ("identifiers", 0),
            "at least one user_id",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "email", "all_values": True}]},
            ("identifiers", 0, "all_values"),
            "give value",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "email"}]},
            ("identifiers", 0),
            "value is required",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "Email", "value": "a"}]},
            ("identifiers", 0, "type"),
            "lowercase",
        ),
        ({"identifiers": [{"type": "email", "value": "a"}]}, (), "profile is required"),
        ({"profile": {"user_id": "u"}}, (), "identifiers is required"),
        (
            {
                "profile": {"user_id": "u"},
                "identifiers": [{"type": "email", "value": "a"}],
                "attributes": ["name"],
            },
            ("attributes",),
            "not supported for segment",
        ),
    ],
)
def test_rule_breaks_are_reported_at_their_path(entry, where, fragment) -> None:
    items, problems = check(SEG, entry)
    matching = [m for p, m in problems if p == where]
    assert matching, problems
    assert any(fragment in m for m in matching), matching


def test_a_bad_identifier_does_not_drop_the_good_ones() -> None:
    items, problems = check(
        SEG,
        {
            "profile": {"user_id": "u"},
            "identifiers": [{"type": "group_id", "value": "g"}, {"type": "email", "value": "a"}],
        },
    )
    assert paths(problems) == [("identifiers", 0, "type")]
    assert [i.removal["type"] for i in items] == ["email"]


def test_delete_profiles_is_refused() -> None:
    assert paths(check_spec(SEG, {"delete_profiles": True})) == [("delete_profiles",)]
    assert check_spec(SEG, {"delete_profiles": False}) == []


def test_csv_rows_become_entries_whatever_the_column_order() -> None:
    to_entry = SEG.csv_reader(["value", "user_id", "type"])
    assert to_entry({"user_id": "u_9", "type": "email", "value": "z@example.com"}) == {
        "profile": {"user_id": "u_9"},
        "identifiers": [{"type": "email", "value": "z@example.com"}],
    }


@pytest.mark.parametrize(
    "header",
    [["user", "type", "value"], ["user_id", "type"], ["user_id", "type", "value", "extra"]],
)
def test_csv_header_must_be_user_id_type_value(header) -> None:
    with pytest.raises(CsvFormatError, match="user_id,type,value"):
        SEG.csv_reader(header)


def test_csv_header_repeating_a_column_is_refused() -> None:
    with pytest.raises(CsvFormatError, match="repeats a column"):
        SEG.csv_reader(["user_id", "type", "value", "type"])


@pytest.mark.parametrize(
    "id_type",
    ["email", "user_id", "anonymous_id", "android.id", "ios.idfa", "ga_client_id", "phone", "9x"],
)
def test_standard_and_declared_types_are_accepted(id_type) -> None:
    rules = SEG.for_target({"identifier_types": ["phone", "9x"]})
    items, problems = check(
        rules, {"profile": {"user_id": "u"}, "identifiers": [{"type": id_type, "value": "v@x"}]}
    )
    assert problems == []
    assert [i.removal["type"] for i in items] == [id_type]


@pytest.mark.parametrize(
    ("id_type", "hint"),
    [("emial", "did you mean 'email'?"), ("phone", ""), ("anonymousid", "'anonymous_id'")],
)
def test_a_type_the_space_does_not_have_is_refused_with_a_suggestion(id_type, hint) -> None:
    entry = {"profile": {"user_id": "u"}, "identifiers": [{"type": id_type, "value": "v"}]}
    items, [(where, message)] = check(SEG, entry)
    assert items == []
    assert where == ("identifiers", 0, "type")
    assert message.startswith(f"'{id_type}' is not an identifier type of this space")
    assert hint in message
    assert "identifier_types in reconciler.yaml" in message


@pytest.mark.parametrize(
    "id_type",
    ["e mail", "email ", " email", "ios-idfa", ".email", "_id", "e\tmail", "email\n", "émail", ""],
)
def test_identifier_types_with_odd_characters_are_refused(id_type) -> None:
    items, problems = check(
        SEG, {"profile": {"user_id": "u"}, "identifiers": [{"type": id_type, "value": "v"}]}
    )
    assert items == []
    [(where, message)] = problems
    assert where == ("identifiers", 0, "type")
    assert message.startswith(f"{id_type!r} is not a segment identifier type: lowercase letters")


def test_an_uppercase_type_keeps_the_lowercase_hint() -> None:
    _, [(_, message)] = check(
        SEG, {"profile": {"user_id": "u"}, "identifiers": [{"type": "Ios.IDFA", "value": "v"}]}
    )
    assert message == "identifier types are lowercase in segment ('Ios.IDFA')"

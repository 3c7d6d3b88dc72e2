"""Twilio Memory: every value of a type (removeAll=true); a named value is refused."""

from __future__ import annotations

import pytest

from reconciler.desired import Item
from reconciler.vendors.api import CsvFormatError
from tests.vendors._helpers import RULES, check, check_spec

MEM = RULES["twilio_memory"]
PID = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"


def test_each_identifier_type_is_one_item() -> None:
    items, problems = check(
        MEM,
        {
            "profile": {"profile_id": PID},
            "identifiers": [
                {"type": "phone", "all_values": True},
                {"type": "ab", "all_values": True},
                {"type": "x" * 30, "all_values": True},
                {"type": "external-Id_2", "all_values": True},
            ],
        },
        target="mem",
    )
    assert problems == []
    assert [i for i in items] == [
        Item("mem", "twilio_memory", {"profile_id": PID}, {"kind": "identifier_type", "type": t})
        for t in ("phone", "ab", "x" * 30, "external-Id_2")
    ]


def test_a_named_value_is_refused_with_the_limit_policy_explanation() -> None:
    items, [(where, message)] = check(
        MEM, {"profile": {"profile_id": PID}, "identifiers": [{"type": "phone", "value": "+1"}]}
    )
    assert items == []
    assert where == ("identifiers", 0, "value")
    for fragment in ("removeAll=true", "limitPolicy", "all_values: true"):
        assert fragment in message


@pytest.mark.parametrize(
    ("entry", "where", "fragment"),
    [
        (
            {"profile": {"profile_id": PID}, "identifiers": [{"type": "phone"}]},
            ("identifiers", 0),
            "all_values: true is required",
        ),
        (
            {
                "profile": {"profile_id": PID},
                "identifiers": [{"type": "phone", "all_values": False}],
            },
            ("identifiers", 0),
            "all_values: true is required",
        ),
        (
            {
                "profile": {"profile_id": "mem_profile_8zzzzzzzzzzzzzzzzzzzzzzzzz"},
                "identifiers": [{"type": "phone", "all_values": True}],
            },
            ("profile", "profile_id"),
            "does not match",
        ),
        (
            {
                "profile": {"profile_id": PID + "\n"},
                "identifiers": [{"type": "phone", "all_values": True}],
            },
            ("profile", "profile_id"),
            "does not match",
        ),
        (
            {"profile": {"profile_id": PID}, "identifiers": [{"type": "p", "all_values": True}]},
            ("identifiers", 0, "type"),
            "2-30 letters",
        ),
        (
            {
                "profile": {"profile_id": PID},
                "identifiers": [{"type": "x" * 31, "all_values": True}],
            },
            ("identifiers", 0, "type"),
            "2-30 letters",
        ),
        (
            {
                "profile": {"profile_id": PID},
                "identifiers": [{"type": "e.mail", "all_values": True}],
            },
            ("identifiers", 0, "type"),
            "2-30 letters",
        ),
        (
            {
                "profile": {"profile_id": PID},
                "identifiers": [{"type": "phone\n", "all_values": True}],
            },
            ("identifiers", 0, "type"),
            "2-30 letters",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "phone", "all_values": True}]},
            ("profile", "user_id"),
            "only by profile_id",
        ),
        (
            {"profile": {"user_id": "u"}, "identifiers": [{"type": "phone", "all_values": True}]},
            ("profile",),
            "profile_id is required",
        ),
        ({"identifiers": [{"type": "phone", "all_values": True}]}, (), "profile is required"),
        ({"profile": {"profile_id": PID}}, (), "identifiers is required"),
    ],
)
def test_rule_breaks_are_reported_and_yield_no_item(entry, where, fragment) -> None:
    items, problems = check(MEM, entry)
    assert items == []
    matching = [m for p, m in problems if p == where]
    assert any(fragment in m for m in matching), problems


def test_delete_profiles_is_refused() -> None:
    [(where, message)] = check_spec(MEM, {"delete_profiles": True})
    assert where == ("delete_profiles",)
    assert "not profiles" in message


def test_csv_rows_remove_every_value_of_the_type() -> None:
    to_entry = MEM.csv_reader(["type", "profile_id"])
    assert to_entry({"profile_id": PID, "type": "email"}) == {
        "profile": {"profile_id": PID},
        "identifiers": [{"type": "email", "all_values": True}],
    }
    with pytest.raises(CsvFormatError, match="profile_id,type"):
        MEM.csv_reader(["profile_id", "type", "value"])


def test_attribute_removals_are_refused() -> None:
    _, problems = check(
        MEM,
        {
            "profile": {"profile_id": PID},
            "attributes": ["x"],
            "identifiers": [{"type": "phone", "all_values": True}],
        },
    )
    [(where, message)] = problems
    assert where == ("attributes",)
    assert "not supported for twilio_memory targets" in message


def test_a_bad_profile_id_is_shown_masked() -> None:
    from reconciler.masking import mask

    raw = "mem_profile_9abcdefghijk"
    _, [(where, message)] = check(
        MEM,
        {"profile": {"profile_id": raw}, "identifiers": [{"type": "phone", "all_values": True}]},
    )
    assert where == ("profile", "profile_id")
    assert message == f"{mask(raw)!r} does not match ^mem_profile_[0-7][0-9a-z]{{25}}$"
    assert raw not in message

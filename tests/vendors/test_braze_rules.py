"""Braze: whole profiles only, by exactly one locator; email/phone need prioritization."""

from __future__ import annotations

import pytest

from reconciler.desired import Item
from reconciler.vendors.api import CsvFormatError
from tests.vendors._helpers import RULES, check, check_spec

BRAZE = RULES["braze"]


@pytest.mark.parametrize(
    ("profile", "locator"),
    [
        ({"external_id": "e1"}, {"external_id": "e1"}),
        ({"braze_id": "b1"}, {"braze_id": "b1"}),
        (
            {"user_alias": {"alias_name": "n", "alias_label": "l"}},
            {"user_alias": {"alias_name": "n", "alias_label": "l"}},
        ),
        (
            {"email": "a@x.example", "prioritization": ["unidentified", "most_recently_updated"]},
            {"email": "a@x.example", "prioritization": ["unidentified", "most_recently_updated"]},
        ),
        (
            {"prioritization": ["identified"], "phone": "+15555550100"},
            {"phone": "+15555550100", "prioritization": ["identified"]},
        ),
    ],
)
def test_each_locator_is_one_profile_item(profile, locator) -> None:
    items, problems = check(BRAZE, {"profile": profile}, target="braze")
    assert problems == []
    assert items == [Item("braze", "braze", locator, {"kind": "profile"})]


def test_prioritization_order_is_kept_because_it_means_something() -> None:
    a, _ = check(
        BRAZE,
        {"profile": {"email": "a", "prioritization": ["unidentified", "most_recently_updated"]}},
    )
    b, _ = check(
        BRAZE,
        {"profile": {"email": "a", "prioritization": ["most_recently_updated", "unidentified"]}},
    )
    assert a[0].canonical() != b[0].canonical()


@pytest.mark.parametrize(
    ("entry", "where", "fragment"),
    [
        ({"profile": {"external_id": "e", "braze_id": "b"}}, ("profile",), "exactly one"),
        ({"profile": {"email": "a"}}, ("profile",), "prioritization is required"),
        ({"profile": {"phone": "+1555"}}, ("profile",), "prioritization is required"),
        (
            {"profile": {"email": "a", "prioritization": ["identified", "unidentified"]}},
            ("profile", "prioritization"),
            "only one of identified and unidentified",
        ),
        (
            {"profile": {"email": "a", "prioritization": ["identified", "identified"]}},
            ("profile", "prioritization"),
            "must not repeat",
        ),
        (
            {"profile": {"email": "a", "prioritization": ["newest"]}},
            ("profile", "prioritization"),
            "unknown value 'newest'",
        ),
        (
            {"profile": {"email": "a", "prioritization": []}},
            ("profile", "prioritization"),
            "non-empty list",
        ),
        (
            {"profile": {"external_id": "e", "prioritization": ["identified"]}},
            ("profile", "prioritization"),
            "only to email and phone",
        ),
        ({"profile": {"user_id": "u"}}, ("profile", "user_id"), "cannot locate a braze profile"),
        ({"profile": {"prioritization": ["identified"]}}, ("profile",), "is required for braze"),
        ({"attributes": ["name"]}, (), "profile is required for braze"),
    ],
)
def test_rule_breaks_are_reported_and_yield_no_item(entry, where, fragment) -> None:
    items, problems = check(BRAZE, entry)
    assert items == []
    matching = [m for p, m in problems if p == where]
    assert any(fragment in m for m in matching), problems


@pytest.mark.parametrize("spec", [{}, {"delete_profiles": False}])
def test_delete_profiles_true_is_required(spec) -> None:
    [(where, message)] = check_spec(BRAZE, spec)
    assert where == ()
    assert "delete_profiles: true" in message and "irreversible" in message


def test_delete_profiles_true_is_enough() -> None:
    assert check_spec(BRAZE, {"delete_profiles": True}) == []


@pytest.mark.parametrize(
    ("header", "row", "entry"),
    [
        (["external_id"], {"external_id": "e"}, {"profile": {"external_id": "e"}}),
        (["braze_id"], {"braze_id": "b"}, {"profile": {"braze_id": "b"}}),
        (
            ["alias_label", "alias_name"],
            {"alias_name": "n", "alias_label": "l"},
            {"profile": {"user_alias": {"alias_name": "n", "alias_label": "l"}}},
        ),
        (
            ["email", "prioritization"],
            {"email": "a", "prioritization": "unidentified  most_recently_updated"},
            {
                "profile": {
                    "email": "a",
                    "prioritization": ["unidentified", "most_recently_updated"],
                }
            },
        ),
        (
            ["prioritization", "phone"],
            {"phone": "+1", "prioritization": "identified"},
            {"profile": {"phone": "+1", "prioritization": ["identified"]}},
        ),
    ],
)
def test_csv_shapes(header, row, entry) -> None:
    assert BRAZE.csv_reader(header)(row) == entry


@pytest.mark.parametrize("header", [["email"], ["external_id", "braze_id"], ["user_id"]])
def test_csv_header_that_fits_no_shape_is_refused(header) -> None:
    with pytest.raises(CsvFormatError, match="does not fit a braze target"):
        BRAZE.csv_reader(header)


def test_identifiers_are_refused_because_braze_deletes_whole_profiles() -> None:
    _, problems = check(
        BRAZE, {"profile": {"external_id": "e"}, "identifiers": [{"type": "email", "value": "a"}]}
    )
    [(where, message)] = problems
    assert where == ("identifiers",)
    assert "not supported for braze targets" in message

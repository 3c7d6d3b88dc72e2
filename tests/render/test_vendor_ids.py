"""Masking that helps: personal values are masked, the vendor's own ids are not, so two
lines about different things never read the same."""

from __future__ import annotations

from reconciler.desired import Item
from reconciler.render.describe import describe, shown

USER = {"email": "jane.doe@example.com"}


def attribute_value(name: str, value: object, custom: bool = False) -> Item:
    removal = {"kind": "attribute_value", "name": name, "value": value, "custom": custom}
    return Item("ins", "insider", USER, removal)


def test_insider_list_ids_are_shown_and_everything_personal_stays_masked() -> None:
    lines = [describe(attribute_value("list_id", n)) for n in (12, 14, 1234)]
    assert lines == [
        f"value {n} of attribute list_id on user email j***@example.com" for n in (12, 14, 1234)
    ]
    assert len(set(lines)) == 3  # masked, all three read "value ** ..." alike
    # a custom attribute's values may be anything a person typed: masked
    custom = describe(attribute_value("list_id", "pregnancy", custom=True))
    assert "pregnancy" not in custom and "j***@example.com" in custom
    # a string attribute's value is personal
    assert "Jane" not in describe(attribute_value("name", "Jane"))


def test_show_values_and_the_masked_item_keep_their_types() -> None:
    item = attribute_value("list_id", 12)
    assert shown(item, show_values=True) is item
    masked = shown(item, show_values=False)
    assert masked.removal["value"] == 12 and masked.locator["email"] == "j***@example.com"

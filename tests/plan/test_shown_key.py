"""A shown key determines the shown item, and where it lists the shown values the item
read back from it is exactly `shown(item, False)` (the JSON plan's preview relies on both)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired import Item
from reconciler.plan.describe import shown, shown_from_key, shown_key

KEYS = st.sampled_from(["kind", "type", "name", "value", "email", "user_id", "custom", "list"])
SCALARS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["a@b.example", "+14155550123", "mem_profile_01abc", "u_00000012"]),
    st.booleans(),
    st.none(),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=6,
)
MAPPINGS = st.dictionaries(KEYS, VALUES, max_size=4)


def same(a: Item, b: Item) -> bool:
    """Equal as the plan prints them: == alone takes 1 for True."""
    return (a.target, a.vendor) == (b.target, b.vendor) and json.dumps(
        [a.locator, a.removal]
    ) == json.dumps([b.locator, b.removal])


def item_of(vendor: str, locator: dict[str, Any], removal: dict[str, Any]) -> Item:
    return Item("t", vendor, locator, {"kind": "attribute_value", **removal})


@settings(max_examples=600, deadline=None)
@given(locator=MAPPINGS, removal=MAPPINGS)
def test_read_back_from_its_key_an_item_is_shown_as_shown_shows_it(locator, removal):
    item = item_of("braze", locator, removal)
    key = shown_key(item.locator, item.removal)
    back = shown_from_key("t", "braze", key)
    if back is not None:
        assert same(back, shown(item, False))  # keys in order too


@settings(max_examples=300, deadline=None)
@given(value=VALUES, custom=st.booleans())
def test_with_the_vendors_own_ids_kept_too(value, custom):
    # Insider: the values of a list_id attribute number the partner's lists, shown as they are
    item = item_of("insider", {"email": "jane@x.example"}, {"name": "list_id", "value": value})
    if custom:
        item.removal["custom"] = True
    from reconciler.vendors.registry import vendor

    keep = vendor("insider").vendor_ids(item)
    back = shown_from_key("t", "insider", shown_key(item.locator, item.removal, keep))
    if back is not None:
        assert same(back, shown(item, False))


def test_the_usual_items_are_read_back_not_masked_again():
    flat = item_of("braze", {"user_id": "u_00000012"}, {"type": "email", "value": "a@b.example"})
    nested = Item("t", "braze", {"identities": {"email": "a@b.example"}}, {"kind": "profile"})
    for item in (flat, nested):
        back = shown_from_key("t", "braze", shown_key(item.locator, item.removal))
        assert back is not None and same(back, shown(item, False))
    assert flat.locator["user_id"] not in str(shown(flat, False))  # the check above can fail
    # a value that is not a string, bool or None takes the general walk: no read-back
    odd = item_of("braze", {"user_id": 12}, {})
    assert shown_from_key("t", "braze", shown_key(odd.locator, odd.removal)) is None

"""Plain-language, masked descriptions of items and of the requests they become."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from reconciler.desired import Item
from reconciler.masking import _NOT_VALUES, map_values, mask
from reconciler.target import Target
from reconciler.vendors.kit import VendorBase
from reconciler.vendors.registry import vendor


def _masked_flat(values: dict[str, Any]) -> dict[str, Any] | None:
    """`map_values(..., mask)` of a mapping of strings, the common case, without the
    general walk (a plan renders every item); None when a value is not a plain string."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in _NOT_VALUES:
            out[key] = value
        elif type(value) is str:
            out[key] = mask(value)
        elif value is None or type(value) is bool:  # not a value: kept (as map_values does)
            out[key] = value
        else:
            return None
    return out


_NONE: frozenset[str] = frozenset()


def _flat_key(values: dict[str, Any], keep: frozenset[str]) -> tuple[tuple[str, Any], ...] | None:
    """(key, shown value) pairs of a flat mapping, in order, as `shown` makes them;
    None when a value is not a string, a bool or None (ints would equal bools here)."""
    out: list[tuple[str, Any]] = []
    add = out.append
    for key, value in values.items():
        if type(value) is str:
            add((key, value if key in _NOT_VALUES or key in keep else mask(value)))
        elif value is None or type(value) is bool:
            add((key, value))
        elif type(value) is dict and key not in _NESTED_ELSEWHERE and key not in keep:
            # one mapping of values (the OpenDSR plugin's identities): its values are
            # masked by their own keys, as map_values walks it; tagged, so it never
            # equals a string's shown value
            inner = _flat_key(value, _NONE)
            if inner is None:
                return None
            add((key, ("d", inner)))
        else:
            return None
    return tuple(out)


# keys whose mapping map_values walks otherwise: a custom identifier's values are masked
# whatever their names; a structure key's mapping is shown as it is
_NESTED_ELSEWHERE = _NOT_VALUES | {"custom"}


def _raw(value: Any) -> Hashable:
    """A value shown as it is, hashable, with its type (1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return ("d", tuple((k, _raw(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("l", tuple(_raw(v) for v in value))
    return (type(value), value)


def _masked(value: Any, key: str) -> Hashable:
    """`map_values(..., mask)`'s walk of a value under `key`, as a hashable value: each
    masked value its masked text, anything else `_raw` (`shown` is the same walk)."""
    if key in _NOT_VALUES:
        return _raw(value)
    if type(value) is str:
        return mask(value)
    if key == "custom" and isinstance(value, dict):
        return ("d", tuple((k, _masked(v, "value")) for k, v in value.items()))
    if isinstance(value, dict):
        return ("d", tuple((k, _masked(v, k)) for k, v in value.items()))
    if isinstance(value, list):
        return ("l", tuple(_masked(v, key) for v in value))
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return mask(value)
    return _raw(value)


def shown_key(
    locator: dict[str, Any], removal: dict[str, Any], keep: frozenset[str] = _NONE
) -> tuple[Hashable, Hashable]:
    """What `shown(item, False)` is for an item of this locator and removal, as a
    hashable value that determines it (keys in order, values with their types): two
    items with the same key are shown the same. `keep`: the vendor's `vendor_ids(item)`."""
    located: Hashable = _flat_key(locator, _NONE)
    if located is None:
        located = _masked(locator, "")
    removed: Hashable = _flat_key(removal, keep)
    if removed is None:
        removed = (
            "d",
            tuple((k, _raw(v) if k in keep else _masked(v, k)) for k, v in removal.items()),
        )
    return located, removed


def shown_from_key(target: str, vendor_name: str, key: tuple[Hashable, Hashable]) -> Item | None:
    """The item `shown(item, False)` makes, read back from its `shown_key` when the key
    lists the shown values (a locator and removal of strings, bools, None and mappings
    of them: nearly every item), so its values are masked once, not twice; None when the
    key is another form (`_masked`'s)."""
    located, removed = key
    if _listed(located) and _listed(removed):
        return Item(target, vendor_name, _unflat(located), _unflat(removed))
    return None


def _listed(part: Hashable) -> bool:
    """Whether a part of a shown key is `_flat_key`'s list of (key, shown value) pairs
    (`_masked`'s form is a tag and a tuple)."""
    return type(part) is tuple and all(type(pair) is tuple for pair in part)


def _unflat(pairs: Any) -> dict[str, Any]:
    """The mapping `_flat_key` listed (a tagged value is a mapping listed in turn)."""
    return {k: _unflat(v[1]) if type(v) is tuple else v for k, v in pairs}


def keeps_no_ids(vendor_object: object) -> bool:
    """Whether a vendor's `vendor_ids` is the kit's (no item keeps a value unmasked):
    then a plan needs no item to ask it. A vendor with its own (Insider, or any plugin
    that defines one) is asked for every item."""
    return getattr(type(vendor_object), "vendor_ids", None) is VendorBase.vendor_ids


def shown(item: Item, show_values: bool) -> Item:
    if show_values:
        return item
    locator = _masked_flat(item.locator)
    removal = _masked_flat(item.removal)
    if locator is None or removal is None:
        out = map_values(item, mask)
    else:
        out = Item(item.target, item.vendor, locator, removal)
    keep = vendor(item.vendor).vendor_ids(item)
    if keep:  # the vendor's own ids (Insider list numbers) are not personal: shown
        kept = {k: item.removal[k] if k in keep else v for k, v in out.removal.items()}
        out = Item(out.target, out.vendor, out.locator, kept)
    return out


def describe(item: Item, show_values: bool = False) -> str:
    """`email j***@old-domain.example on user_id u_**01`, and so on for each kind."""
    return describe_shown(shown(item, show_values))


def describe_shown(it: Item) -> str:
    """`describe` of an item whose values are already masked (or meant to be shown)."""
    return vendor(it.vendor).describe(it)


def request_preview_shown(target: Target, item: Item) -> dict[str, Any]:
    """`request_preview` of an item whose values are already masked (or meant to be shown)."""
    builder = vendor(item.vendor).requests
    request = builder.build(target, [item]).as_json()
    if builder.max_batch > 1 and builder.batch_key(item) is not None:
        request["batched"] = f"sent in batches of up to {builder.max_batch}"
    return request

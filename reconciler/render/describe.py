"""Plain-language, masked descriptions of items and of the requests they become."""

from __future__ import annotations

from typing import Any

from reconciler.adapters import REQUESTS
from reconciler.config import Target
from reconciler.desired import Item
from reconciler.masking import map_values, mask


def shown(item: Item, show_values: bool) -> Item:
    return item if show_values else map_values(item, mask)


def _locator(locator: dict[str, Any]) -> str:
    parts = []
    for key, value in locator.items():
        if key == "prioritization":
            continue
        if key == "custom" and isinstance(value, dict):
            parts.extend(f"custom.{k} {v}" for k, v in value.items())
        elif key == "user_alias" and isinstance(value, dict):
            parts.append(f"alias {value['alias_name']} (label {value['alias_label']})")
        else:
            parts.append(f"{key} {value}")
    text = ", ".join(parts)
    if "prioritization" in locator:
        text += f" (prioritization: {', '.join(locator['prioritization'])})"
    return text


def describe(item: Item, show_values: bool = False) -> str:
    """`email j***@old-domain.example on user_id u_**01`, and so on for each kind."""
    it = shown(item, show_values)
    r = it.removal
    kind = r["kind"]
    where = _locator(it.locator)
    if kind == "profile":
        return f"user profile {where}"
    if kind == "identifier_type":
        return f"every {r['type']} value on {where}"
    if kind == "attribute":
        custom = "custom attribute" if r["custom"] else "attribute"
        return f"{custom} {r['name']} on user {where}"
    if kind == "attribute_value":
        custom = "custom attribute" if r["custom"] else "attribute"
        return f"value {r['value']} of {custom} {r['name']} on user {where}"
    if item.vendor == "insider":
        return f"identifier {r['type']} {r['value']}"
    return f"{r['type']} {r['value']} on {where}"


def request_preview(target: Target, item: Item, show_values: bool = False) -> dict[str, Any]:
    """The request this item becomes on its own (apply may batch it with others)."""
    builder = REQUESTS[item.vendor]
    request = builder.build(target, [shown(item, show_values)]).as_json()
    if builder.max_batch > 1 and builder.batch_key(item) is not None:
        request["batched"] = f"sent in batches of up to {builder.max_batch}"
    return request

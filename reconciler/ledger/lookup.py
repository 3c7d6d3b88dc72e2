"""Answering "was this value removed?": find the items a raw value belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.adapters import RULES
from reconciler.config import Target
from reconciler.desired import DesiredState, Item
from reconciler.errors import ReconcilerError
from reconciler.masking import raw_values


def items_with_value(desired: DesiredState, target: str, value: str) -> list[Item]:
    """Declared items at `target` that hold `value` (in the locator or the removal)."""
    return [d.item for d in desired if d.item.target == target and value in raw_values(d.item)]


def item_from_args(
    target: Target, profile: Mapping[str, str], id_type: str | None, value: str | None
) -> list[Item]:
    """Items described on the command line, checked by the vendor's own rules."""
    entry: dict[str, Any] = {}
    if profile:
        entry["profile"] = dict(profile)
    if id_type is not None:
        ident: dict[str, Any] = {"type": id_type}
        if target.vendor == "twilio_memory":
            ident["all_values"] = True
        elif value is not None:
            ident["value"] = value
        entry["identifiers"] = [ident]
    problems: list[str] = []
    items = RULES[target.vendor].items(
        target.name, entry, lambda p, m: problems.append(f"{'.'.join(map(str, p))}: {m}")
    )
    if problems:
        raise ReconcilerError("cannot describe that item: " + "; ".join(problems))
    return items

"""Answering "was this value removed?": find the items a raw value belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.desired import DesiredState, Fingerprinter, Item, Source
from reconciler.errors import ReconcilerError
from reconciler.ledger.fold import ItemStatus, Ledger
from reconciler.ledger.records import FP_CHARS
from reconciler.masking import raw_values
from reconciler.target import Target
from reconciler.vendors.registry import rules_for, vendor


def items_with_value(desired: DesiredState, target: str, value: str) -> list[Item]:
    """Declared items at `target` that hold `value` (in the locator or the removal)."""
    return [d.item for d in desired if d.item.target == target and value in raw_values(d.item)]


def item_from_args(
    target: Target, profile: Mapping[str, str], id_type: str | None, value: str | None
) -> list[Item]:
    """Items described on the command line, checked by the vendor's own rules."""
    entry = vendor(target.vendor).lookup_entry(profile, id_type, value)
    problems: list[str] = []
    items = rules_for(target).items(
        target.name, entry, lambda p, m: problems.append(f"{'.'.join(map(str, p))}: {m}")
    )
    if problems:
        raise ReconcilerError("cannot describe that item: " + "; ".join(problems))
    return items


def item_by_prefix(ledger: Ledger, prefix: str) -> tuple[str, ItemStatus]:
    """The one recorded item whose fingerprint starts with `prefix` (its key and status),
    or ReconcilerError when none or several do."""
    wanted = prefix.lower()[:FP_CHARS]
    matches = [fp for fp in ledger.items if fp.startswith(wanted)]
    if not matches:
        raise ReconcilerError(f"no item with fingerprint {prefix} in the ledger")
    if len(matches) > 1:
        raise ReconcilerError(f"{prefix} matches {len(matches)} items: give more characters")
    return matches[0], ledger.items[matches[0]]


def value_types(item: Item, value: str) -> set[str]:
    """The types `value` has in `item`: an identifier's type (email, phone), the locator
    field holding it (user_id, external_id), or the attribute whose value it is."""
    found: set[str] = set()
    removal = item.removal
    if str(removal.get("value")) == value:
        found.add(str(removal.get("type") or removal.get("name") or removal["kind"]))
    for key, held in item.locator.items():
        if isinstance(held, dict):
            found.update(str(k) for k, v in held.items() if str(v) == value)
        elif str(held) == value:
            found.add(key)
    return found


@dataclass(frozen=True)
class NearMiss:
    """What `ledger find --value V [--type T]` found instead of an item at its target."""

    other_types: tuple[str, ...]  # types the value has at this target (with --type)
    other_targets: tuple[str, ...]  # targets where a declared item holds the value


def matching_items(
    desired: DesiredState, target: str, value: str, id_type: str | None
) -> tuple[list[Item], NearMiss]:
    """Declared items at `target` holding `value` (as `id_type`, when given), and where
    else the value is declared when none is."""
    here: list[Item] = []
    types: set[str] = set()
    elsewhere: set[str] = set()
    for d in desired:
        item = d.item
        if value not in raw_values(item):
            continue
        if item.target != target:
            elsewhere.add(item.target)
            continue
        has = value_types(item, value)
        if id_type is None or id_type in has:
            here.append(item)
        else:
            types |= has
    return here, NearMiss(tuple(sorted(types)), tuple(sorted(elsewhere)))


def declared_item(
    desired: DesiredState, fingerprint: Fingerprinter, key: str
) -> tuple[Item, list[Source]] | None:
    """The declared item whose fingerprint starts with `key`, with its sources."""
    for d in desired:
        if fingerprint(d.item).startswith(key):
            return d.item, list(d.sources)
    return None

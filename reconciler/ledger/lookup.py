"""Answering "was this value removed?": find the items a raw value belongs to."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.desired import DesiredState, Item
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

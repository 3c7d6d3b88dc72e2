"""`ledger list|show|find --format json`: versioned documents (schemas/ledger.schema.json).

Values are masked as in the text forms (unless `--show-values` for list); records are the
ledger's own, which never hold a raw value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler import __version__
from reconciler.desired import Item
from reconciler.ledger.listing import ListRow
from reconciler.plan.describe import describe

FORMAT_VERSION = "1"


def _doc(kind: str, **fields: Any) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "tool_version": __version__, "kind": kind, **fields}


def list_json(rows: Sequence[ListRow], total: int, show_values: bool) -> dict[str, Any]:
    """`total`: rows that matched the filters (`items` may be cut by --limit)."""
    return _doc(
        "ledger-list",
        values_shown=show_values,
        total=total,
        items=[
            {
                "fingerprint": r.fingerprint,
                "state": r.state,
                "target": r.target,
                "updated": r.updated,
                "manifests": list(r.manifests),
                "description": describe(r.item, show_values) if r.item is not None else None,
                "orphaned": r.orphaned,
            }
            for r in rows
        ],
    )


def item_json(
    fingerprint: str,
    target: str,
    state: str | None,
    evidence: str | None,
    held: str | None,
    item: Item | None,
    declared: Sequence[str],
    verdict: str,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """One item and its raw records; `state` None: declared, never recorded."""
    return {
        "fingerprint": fingerprint,
        "target": target,
        "state": state,
        "evidence": evidence,
        "held": held,
        "description": describe(item) if item is not None else None,
        "declared": list(declared),
        "verdict": verdict,
        "records": records,
    }


def show_json(entry: dict[str, Any]) -> dict[str, Any]:
    return _doc("ledger-item", item=entry)


def find_json(
    target: str,
    value_given: bool,
    id_type: str | None,
    matches: list[dict[str, Any]],
    other_types: Sequence[str],
    other_targets: Sequence[str],
) -> dict[str, Any]:
    return _doc(
        "ledger-find",
        target=target,
        by_value=value_given,
        type=id_type,
        matches=matches,
        near_miss={"other_types": list(other_types), "other_targets": list(other_targets)},
    )

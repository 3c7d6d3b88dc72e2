"""The top-level fields of a plan's JSON document, before its actions: what a saved plan
records of the plan, and what `--format json` writes first (schemas/plan.schema.json)."""

from __future__ import annotations

from typing import Any

from reconciler import __version__
from reconciler.plan.model import FORMAT_VERSION, Plan


def plan_head(plan: Plan, show_values: bool) -> dict[str, Any]:
    """Every top-level field before `actions`, in document order."""
    targets = [
        {
            "name": tp.target.name,
            "vendor": tp.target.vendor,
            "summary": tp.summary.as_json(),
            "orphaned": len(tp.orphaned),
        }
        for tp in plan.targets
    ]
    fingerprint: dict[str, Any] = {"scheme": plan.fingerprint_scheme, "key_id": plan.key_id}
    if plan.new_ledger_salt is not None:
        fingerprint["new_ledger_salt"] = plan.new_ledger_salt
    head: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "summary": {**plan.summary.as_json(), "line": plan.summary.line()},
        "ledger": plan.ledger.as_json(),
        "desired_digest": plan.desired_digest,
        "accounts": plan.accounts,
        "fingerprint": fingerprint,
        "target_filter": plan.target_filter,
        "values_shown": show_values,
        "targets": targets,
    }
    if plan.deadlines:  # only when a manifest has a date: other plans are as before
        head["deadlines"] = {
            "manifests": [row.as_json() for row in plan.deadlines],
            "estimates": [est.as_json() for est in plan.estimates],
            "missed": plan.deadline_missed,
        }
    return head

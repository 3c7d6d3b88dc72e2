"""`--format json` and saved plans: the plan model as versioned JSON (schemas/plan.schema.json)."""

from __future__ import annotations

from typing import Any

from reconciler import __version__
from reconciler.plan.model import FORMAT_VERSION, Action, Plan, TargetPlan
from reconciler.render.describe import describe, request_preview


def action_json(tp: TargetPlan, action: Action, show_values: bool) -> dict[str, Any]:
    item = action.item
    return {
        "fingerprint": action.fingerprint,
        "target": item.target,
        "vendor": item.vendor,
        "kind": item.kind,
        "description": describe(item, show_values),
        "state": action.state,
        "action": action.action,
        "irreversible": action.irreversible,
        "sources": [
            {"manifest": s.manifest, "file": s.file, "line": s.line} for s in action.sources
        ],
        "request": request_preview(tp.target, item, show_values),
    }


def plan_json(plan: Plan, show_values: bool = False) -> dict[str, Any]:
    targets = []
    actions = []
    for tp in plan.targets:
        targets.append(
            {
                "name": tp.target.name,
                "vendor": tp.target.vendor,
                "summary": tp.summary.as_json(),
                "orphaned": len(tp.orphaned),
            }
        )
        actions.extend(action_json(tp, a, show_values) for a in tp.actions)
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "summary": {**plan.summary.as_json(), "line": plan.summary.line()},
        "ledger": plan.ledger.as_json(),
        "desired_digest": plan.desired_digest,
        "fingerprint": {"scheme": plan.fingerprint_scheme, "key_id": plan.key_id},
        "target_filter": plan.target_filter,
        "values_shown": show_values,
        "targets": targets,
        "actions": actions,
        "warnings": plan.warnings,
    }
    if plan.new_ledger_salt is not None:
        out["fingerprint"]["new_ledger_salt"] = plan.new_ledger_salt
    return out

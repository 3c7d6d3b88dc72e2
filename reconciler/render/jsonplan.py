"""`--format json` and saved plans: the plan model as versioned JSON (schemas/plan.schema.json).

A plan can hold millions of actions, so the document is written as a stream: the
summary fields first, then one action a line, each encoded once however many outputs
(stdout and a saved plan) receive it. `plan_json` builds the same document in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from reconciler import __version__
from reconciler.desired import Source
from reconciler.plan.model import FORMAT_VERSION, Action, Plan, TargetPlan
from reconciler.render.describe import describe_shown, request_preview_shown, shown

_encode = json.JSONEncoder(ensure_ascii=False).encode
# actions written per write() call
CHUNK = 2000


def source_json(source: Source) -> dict[str, Any]:
    return {"manifest": source.manifest, "file": source.file, "line": source.line}


def action_json(tp: TargetPlan, action: Action, show_values: bool) -> dict[str, Any]:
    item = action.item
    visible = shown(item, show_values)
    return {
        "fingerprint": action.fingerprint,
        "target": item.target,
        "vendor": item.vendor,
        "kind": item.kind,
        "description": describe_shown(visible),
        "state": action.state,
        "action": action.action,
        "irreversible": action.irreversible,
        "sources": [source_json(s) for s in action.sources],
        "request": request_preview_shown(tp.target, visible),
    }


def _head(plan: Plan, show_values: bool) -> dict[str, Any]:
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
    return {
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


def plan_json(plan: Plan, show_values: bool = False) -> dict[str, Any]:
    out = _head(plan, show_values)
    out["actions"] = [action_json(tp, a, show_values) for tp in plan.targets for a in tp.actions]
    out["warnings"] = plan.warnings
    return out


def _action_chunks(plan: Plan, show_values: bool) -> Iterator[str]:
    """The `actions` array's content, a chunk of encoded actions at a time."""
    batch: list[str] = []
    first = True
    for tp in plan.targets:
        for action in tp.actions:
            batch.append(_encode(action_json(tp, action, show_values)))
            if len(batch) >= CHUNK:
                yield ("\n  " if first else ",\n  ") + ",\n  ".join(batch)
                batch, first = [], False
    if batch:
        yield ("\n  " if first else ",\n  ") + ",\n  ".join(batch)


def write_plan_json(
    plan: Plan, show_values: bool, streams: Sequence[tuple[TextIO, dict[str, Any]]]
) -> None:
    """Write the plan's JSON to every (stream, leading fields) at once; each stream gets
    its own leading fields (a saved plan's `kind`) and the same actions."""
    head = _head(plan, show_values)
    for stream, extra in streams:
        fields = {**extra, **head}
        stream.write(
            "{\n"
            + "".join(f" {_encode(k)}: {_encode(v)},\n" for k, v in fields.items())
            + ' "actions": ['
        )
    for chunk in _action_chunks(plan, show_values):
        for stream, _ in streams:
            stream.write(chunk)
    tail = f'\n ],\n "warnings": {_encode(plan.warnings)}\n}}\n'
    for stream, _ in streams:
        stream.write(tail)
        stream.flush()

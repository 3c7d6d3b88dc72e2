"""`apply --format json`: the final document of one apply (schemas/apply.schema.json), for
posting apply comments and for wrappers. Per-target counts, every failure (masked, as in
the text form), held items, the run id, the exit code and what it means."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler import __version__
from reconciler.apply.engine import ApplyReport, Counts
from reconciler.plan.describe import describe
from reconciler.plan.model import Action, Plan

FORMAT_VERSION = "1"
MAX_FAILURES = 1000  # per-item failures listed; `failures_omitted` counts the rest

EXIT_MEANINGS = {
    0: "ok: everything sent was answered",
    1: "error: an item failed, was rejected or left unknown, or apply refused to start",
    2: "changes pending: --max-duration ran out; run apply again to continue",
    3: "internal error",
    4: "needs a person: items are held (reconcile ledger resolve)",
}


def _counts(c: Counts) -> dict[str, int]:
    return {
        "removed": c.removed,
        "accepted": c.accepted,
        "already_absent": c.already_absent,
        "failed": c.failed,
        "rejected": c.rejected,
    }


def _outcome(report: ApplyReport | None, code: int, error: str | None) -> str:
    if error is not None:
        return "refused"
    if report is None:
        return "no_changes"
    if report.errors:
        return "finished_with_errors"
    if code == 2:
        return "stopped"
    return "complete"


def apply_json(
    plan: Plan | None,
    sends: Sequence[Action],
    report: ApplyReport | None,
    run_id: str | None,
    code: int,
    error: str | None = None,
) -> dict[str, Any]:
    """`plan` None: apply stopped before it had one; `report` None: nothing was sent."""
    sent_by_target: dict[str, int] = {}
    for action in sends:
        sent_by_target[action.target] = sent_by_target.get(action.target, 0) + 1
    targets = []
    for tp in plan.targets if plan is not None else []:
        name = tp.target.name
        counts = report.by_target.get(name, Counts()) if report is not None else Counts()
        rate = report.rates.get(name) if report is not None else None
        targets.append(
            {
                "name": name,
                "vendor": tp.target.vendor,
                "to_send": sent_by_target.get(name, 0),
                **_counts(counts),
                "held": tp.summary.held,
                "stopped": report.stopped.get(name) if report is not None else None,
                "rate": None
                if rate is None or rate.effective is None
                else {
                    "requests_per_second": round(rate.effective, 3),
                    "limit": rate.limit,
                    "throttled": rate.throttled,
                },
            }
        )
    problems = report.problems if report is not None else []
    held = [
        (tp.target.name, a) for tp in (plan.targets if plan else []) for a in tp.actions if a.held
    ]
    summary: dict[str, Any] = {
        **_counts(report if report is not None else Counts()),
        "unknown": report.unknown if report is not None else 0,
        "not_sent": report.not_sent if report is not None else 0,
        "held_back": report.held_back if report is not None else 0,
        "held": plan.summary.held if plan is not None else 0,
        "line": report.line() if report is not None else None,
    }
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "kind": "reconciler-apply",
        "run_id": run_id,
        "outcome": _outcome(report, code, error),
        "exit_code": code,
        "exit_meaning": EXIT_MEANINGS.get(code, "interrupted"),
        "error": error,
        "summary": summary,
        "targets": targets,
        "failures": [
            {
                "target": p.target,
                "fingerprint": p.fingerprint,
                "description": p.description,
                "state": p.state,
                "code": p.code,
                "message": p.message,
            }
            for p in problems[:MAX_FAILURES]
        ],
        "failures_omitted": max(0, len(problems) - MAX_FAILURES),
        "held_items": [
            {
                "target": target,
                "fingerprint": action.fingerprint,
                "description": describe(action.item),
                "why": "conflicting outcomes in merged branches"
                if action.conflicted
                else "sent before, answer lost, not safe to send again",
            }
            for target, action in held[:MAX_FAILURES]
        ],
        "warnings": (list(plan.warnings) if plan is not None else [])
        + (report.warnings() if report is not None else []),
    }

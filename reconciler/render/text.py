"""The terminal plan, read like `terraform plan`: symbols, one line an action, reasons.

Three forms: the full form (each action and the manifest lines it comes from), the compact
form (one line per action: `--compact`, and the default above LONG_PLAN actions, where
each target lists its first HEAD_PER_TARGET unless `--full`), and the summary (counts
only: `--summary`).
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.manifests.deadlines import iso
from reconciler.plan.describe import describe
from reconciler.plan.model import Action, Plan, TargetPlan
from reconciler.render.style import style
from reconciler.states import DRIFTED, FAILED, REJECTED, UNKNOWN
from reconciler.vendors.registry import vendor

LONG_PLAN = 200  # above this many actions, the compact form is the default
HEAD_PER_TARGET = 100  # actions listed per target above LONG_PLAN (unless --full)


def _symbol(action: Action) -> tuple[str, str]:
    if action.state == UNKNOWN:
        return "?", "yellow"
    if action.state == FAILED:
        return "~", "yellow"
    if action.irreversible:
        return "!", "red"
    return "-", "red"


def _action_lines(
    action: Action, show_values: bool, overdue: Mapping[str, str] | None = None
) -> list[str]:
    symbol, colour = _symbol(action)
    text = describe(action.item, show_values)
    if action.irreversible:
        text += " (irreversible)"
    late = sorted({s.manifest for s in action.sources} & overdue.keys()) if overdue else []
    if late:
        text += style(f" [OVERDUE: {', '.join(late)}]", fg="red", bold=True)
    lines = [f"  {style(symbol, fg=colour, bold=True)} {text}"]
    because = "; ".join(f"{s.manifest}, {s.file}:{s.line}" for s in action.sources[:3])
    if len(action.sources) > 3:
        because += f"; and {len(action.sources) - 3} more"
    reasons: dict[str, str] = {
        UNKNOWN: "sent before, no answer recorded: sent again (deletions are idempotent)",
        FAILED: "failed last time: retried",
        DRIFTED: f"reintroduced after removal (seen at {action.since or 'refresh'})",
    }
    reason = reasons.get(action.state)
    lines.append(style(f"      # (because {because})", dim=True))
    if reason:
        lines.append(style(f"      # ({reason})", dim=True))
    return lines


def _compact_line(
    action: Action, show_values: bool, overdue: Mapping[str, str] | None = None
) -> str:
    """`  - email j***@old-domain.example on user_id u_**01  # seg-emails, specs/x.csv:2`"""
    symbol, colour = _symbol(action)
    text = describe(action.item, show_values)
    if action.irreversible:
        text += " (irreversible)"
    late = sorted({s.manifest for s in action.sources} & overdue.keys()) if overdue else []
    if late:
        text += style(f" [OVERDUE: {', '.join(late)}]", fg="red", bold=True)
    src = action.sources[0]
    more = f" +{len(action.sources) - 1}" if len(action.sources) > 1 else ""
    note = style(f"  # {src.manifest}, {src.file}:{src.line}{more}", dim=True)
    return f"  {style(symbol, fg=colour, bold=True)} {text}{note}"


def _target_lines(
    tp: TargetPlan,
    show_values: bool,
    head: int | None,
    overdue: Mapping[str, str] | None = None,
    form: str = "full",
) -> list[str]:
    t = tp.target
    lines = [style(f"# {t.name} ({t.vendor})", bold=True)]
    v = vendor(t.vendor)
    if v.caveats:
        lines.append(f"  {v.label} caveats:")
        lines.extend(f"    - {c}" for c in v.caveats)
    sends = tp.sends()
    s = tp.summary
    lines.append(
        f"  {s.to_remove} to remove, {s.already_removed} already removed, "
        f"{s.unknown} unknown, {s.to_retry} to retry, {s.held} held"
        + (f", {s.rejected} rejected" if s.rejected else "")
    )
    if form == "summary":
        return lines
    shown = sends if head is None else sends[:head]
    for action in shown:
        if form == "compact":
            lines.append(_compact_line(action, show_values, overdue))
        else:
            lines.extend(_action_lines(action, show_values, overdue))
    if len(shown) < len(sends):
        lines.append(
            f"  ... and {len(sends) - len(shown)} more actions (use --full to list every action)"
        )
    rejected = [a for a in tp.actions if a.state == REJECTED]
    if rejected:
        lines.append("  Rejected by the vendor: not retried until the manifest entry changes:")
        for action in rejected[: head or len(rejected)]:
            lines.append(f"  x {describe(action.item, show_values)}")
    held = [a for a in tp.actions if a.held and not a.conflicted]
    if held:
        lines.append(
            "  Held, not sent: each was sent before and its answer was lost, and sending "
            f"again is not safe. {vendor(t.vendor).held_advice.rstrip('.')}:"
        )
        for action in held[: head or len(held)]:
            lines.append(f"  # {describe(action.item, show_values)}")
    conflicted = [a for a in tp.actions if a.conflicted]
    if conflicted:
        lines.append(
            "  Held, not sent: runs of merged branches recorded conflicting outcomes for "
            "each (`reconcile ledger show FINGERPRINT`). Check the item at the vendor, then "
            "record what you found (`reconcile ledger resolve`):"
        )
        for action in conflicted[: head or len(conflicted)]:
            lines.append(f"  # {action.fingerprint[:16]}  {describe(action.item, show_values)}")
    if tp.orphaned:
        lines.append(
            f"  {len(tp.orphaned)} item(s) in the ledger are no longer declared (orphaned): "
            "shown for information; removing a manifest never un-deletes anything"
        )
    return lines


def render_text(
    plan: Plan,
    show_values: bool = False,
    full: bool = False,
    compact: bool = False,
    summary: bool = False,
) -> str:
    """`compact`: one line per action; `summary`: counts only; above LONG_PLAN actions the
    compact form is the default, cut to HEAD_PER_TARGET a target unless `full`."""
    total_sends = sum(len(tp.sends()) for tp in plan.targets)
    long_plan = total_sends > LONG_PLAN
    form = "summary" if summary else "compact" if compact or long_plan else "full"
    head = None if full or not long_plan else HEAD_PER_TARGET
    out: list[str] = []
    if plan.target_filter:
        out.append(
            style(
                "Warning: --target is in effect: this plan covers only "
                f"{', '.join(plan.target_filter)}. Other targets may have pending removals.",
                fg="yellow",
            )
        )
    drifted = sum(1 for tp in plan.targets for a in tp.actions if a.state == DRIFTED)
    if drifted:
        out.append(
            style("Note: Objects have changed outside of reconciler", bold=True)
            + f"\n  {drifted} item(s) removed before were found back by a refresh (an event "
            "replay, a re-import, a trait promoted again): they are removed again below."
        )
        out.append("")
    if total_sends and form != "summary":
        masked = "" if show_values else " Values are masked (--show-values shows them)."
        out.append(f"Reconciler will send the following removals.{masked}")
        out.append("")
        out.append("Symbols:")
        out.append(f"  {style('-', fg='red', bold=True)} remove")
        bang = style("!", fg="red", bold=True)
        out.append(f"  {bang} delete the whole user profile (irreversible)")
        out.append(f"  {style('?', fg='yellow', bold=True)} send again: outcome unknown")
        out.append(f"  {style('~', fg='yellow', bold=True)} retry: failed last time")
        out.append("  x rejected by the vendor: not sent again until the manifest entry changes")
        out.append("  # held for a person: not sent")
        out.append("")
    overdue = plan.overdue()
    for tp in plan.targets:
        out.extend(_target_lines(tp, show_values, head, overdue, form))
        out.append("")
    if plan.deadlines:
        out.extend(deadline_lines(plan))
        out.append("")
    out.append(style(plan.summary.line(), bold=True))
    return "\n".join(out)


def deadline_lines(plan: Plan) -> list[str]:
    """The plan's deadlines: each dated manifest by due date, then each target's estimate
    (if apply ran now)."""
    lines = [style("Deadlines (by due date):", bold=True)]
    for row in plan.deadlines:
        colour = "red" if row.needs_person else ("green" if row.open == 0 else None)
        lines.append(f"  {row.manifest.name}: " + style(row.verdict(), fg=colour))
    for est in plan.estimates:
        if est.finish is None:
            continue
        queue = (
            f" + {_hours(est.queue_delay.total_seconds())} the vendor's queue"
            if est.queue_delay
            else ""
        )
        lines.append(
            f"  # {est.target}: {est.requests} request(s) at {est.rate:.4g}/s = "
            f"{_hours(est.send_seconds)}{queue}: done about {iso(est.finish)} if apply runs now"
        )
    return lines


def _hours(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"

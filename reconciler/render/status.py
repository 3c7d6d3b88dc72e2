"""`reconcile status`: every request (manifest) by due date, as a table or versioned JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler import __version__
from reconciler.manifests.deadlines import iso
from reconciler.plan.deadlines import ManifestDeadline

FORMAT_VERSION = "1"


def status_word(row: ManifestDeadline) -> str:
    """done, in progress, pending, needs a person; OVERDUE / LATE in front when so."""
    if row.overdue:
        return f"OVERDUE, {row.status}"
    if row.will_miss:
        return f"WILL MISS, {row.status}"
    return row.status


def due_text(row: ManifestDeadline) -> str:
    """The due date as written: a day (due through its end), else the time."""
    due = row.due
    if due is None:
        return "-"
    shown = iso(due) or "-"
    return shown[:10] if shown.endswith("T23:59:59Z") else shown


def status_json(rows: Sequence[ManifestDeadline], now: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "now": now,
        "manifests": [row.as_json() for row in rows],
        "overdue": sum(1 for r in rows if r.overdue),
        "will_miss": sum(1 for r in rows if r.will_miss),
        "open": sum(1 for r in rows if r.open),
    }


def status_text(rows: Sequence[ManifestDeadline]) -> str:
    header = ("MANIFEST", "DUE", "STATUS", "DONE", "ACCEPTED", "TO SEND", "HELD", "REJECTED")
    table = [header]
    for r in rows:
        table.append(
            (
                r.manifest.name,
                due_text(r),
                status_word(r),
                f"{r.done}/{r.items}",
                str(r.accepted),
                str(r.to_send),
                str(r.held),
                str(r.rejected),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    ]
    overdue = sum(1 for r in rows if r.overdue)
    late = sum(1 for r in rows if r.will_miss)
    open_ = sum(1 for r in rows if r.open)
    lines.append("")
    lines.append(
        f"{len(rows)} request(s): {open_} open, {overdue} overdue, "
        f"{late} going to miss the due date."
    )
    for r in rows:
        if r.needs_person or (r.due is not None and r.open):
            lines.append(f"  {r.manifest.name}: {r.verdict()}")
    return "\n".join(lines)

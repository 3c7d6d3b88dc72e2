"""`ledger list` and `ledger show` for people: an aligned table, and an item's history
as readable lines (what the item is, each attempt, each answer, how it stands)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.ledger.listing import ListRow
from reconciler.plan.describe import describe

LIST_COLUMNS = ("FINGERPRINT", "STATE", "TARGET", "UPDATED", "MANIFEST", "ITEM")
ORPHANED = "(orphaned: no manifest)"


def list_cells(row: ListRow, show_values: bool) -> tuple[str, ...]:
    return (
        row.fingerprint[:16],
        row.state,
        row.target,
        row.updated or "-",
        ",".join(row.manifests) or "-",
        describe(row.item, show_values) if row.item is not None else ORPHANED,
    )


def list_table(rows: Sequence[ListRow], show_values: bool) -> list[str]:
    """A header and one line per row, every column but the last padded to its widest
    cell (two spaces between columns)."""
    cells = [LIST_COLUMNS, *(list_cells(r, show_values) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(LIST_COLUMNS) - 1)]
    return [
        "  ".join([*(c[i].ljust(w) for i, w in enumerate(widths)), c[-1]]).rstrip() for c in cells
    ]


VERDICTS = {
    "removed": "REMOVED: the vendor confirmed the deletion",
    "absent": "ALREADY ABSENT: the vendor's answer proves it was not there",
    "confirmed": "REMOVED: a read of the vendor confirmed it is gone",
    "resolved": "DONE by a person's decision",
}


def verdict(state: str, records: list[dict[str, Any]]) -> str:
    """One line answering "was it removed?" from the item's state and its last result."""
    # the record that set the state: a result, or a refresh that saw something (an
    # unverified read changes nothing)
    last = next(
        (
            r
            for r in reversed(records)
            if r["type"] in ("result", "resolution")
            or (r["type"] == "refresh" and r.get("observed") in ("present", "absent"))
        ),
        None,
    )
    when = (
        f" ({last['ts']}, run {last['run']}, commit {last.get('commit') or 'unknown'})"
        if last
        else ""
    )
    if state == "done":
        evidence = (last or {}).get("evidence")
        if (last or {}).get("type") == "refresh":
            evidence = "confirmed"
        if last is not None and last["type"] == "resolution":
            decided = f"{last.get('as')} by {last.get('who')}: {last.get('reason')}"
            return f"{VERDICTS['resolved']} ({decided}){when}"
        return VERDICTS.get(str(evidence), "DONE (recorded before evidence kinds were kept)") + when
    if state == "accepted":
        return (
            "ACCEPTED, NOT CONFIRMED: the vendor queued or acknowledged it; a refresh "
            f"confirms it is gone{when}"
        )
    if state == "drifted":
        return f"BACK AGAIN: a read found it present after removal{when}"
    if state == "unknown":
        return "UNKNOWN: sent, no answer recorded (the next plan re-sends or holds it)"
    return f"NOT REMOVED: {state}{when}"


READ_BACK = {
    "present": "present at the vendor",
    "absent": "gone at the vendor",
    "unverified": "the read proved nothing (state unchanged)",
}


def answer_text(rec: dict[str, Any]) -> str:
    """A result's answer: `failed, HTTP 503, vendor said: Service Unavailable`."""
    answer = str(rec.get("status"))
    if rec.get("evidence"):
        answer += f" ({rec['evidence']})"
    if rec.get("code"):
        answer += f", HTTP {rec['code']}"
    if rec.get("vendor_code"):
        answer += f" {rec['vendor_code']}"
    if rec.get("message"):
        answer += f", vendor said: {rec['message']}"
    if rec.get("note"):
        answer += f" ({rec['note']})"
    if rec.get("request_id"):
        answer += f"; request id {rec['request_id']}"
    return answer


def event_line(rec: dict[str, Any]) -> str:
    """One record about an item, as a sentence."""
    kind = rec["type"]
    if kind == "intent":
        request = f" (request {str(rec['request'])[:12]})" if rec.get("request") else ""
        what = f"sent{request}"
    elif kind == "result":
        what = f"answer: {answer_text(rec)}"
    elif kind == "withdraw":
        what = "withdrawn before it was sent (stays pending)"
    elif kind == "refresh":
        what = f"read back: {READ_BACK.get(str(rec.get('observed')), rec.get('observed'))}"
    elif kind == "resolution":
        what = f"resolution: {rec.get('as')} by {rec.get('who')}: {rec.get('reason')}"
    else:
        what = kind
    by = f", by {rec['who']}" if rec.get("who") and kind != "resolution" else ""
    commit = f", commit {rec['commit']}" if rec.get("commit") else ""
    return f"  {rec['ts']}  {what}  [run {rec['run']}{commit}{by}]"


def item_lines(
    fingerprint: str,
    target: str,
    state: str,
    evidence: str | None,
    held: str | None,
    what: str | None,
    declared: Sequence[str],
    records: list[dict[str, Any]],
) -> list[str]:
    """`ledger show`: the item, its state, each event oldest first, and its verdict."""
    lines = [f"Item {fingerprint}"]
    lines.append(f"  what:     {what if what is not None else ORPHANED}")
    if declared:
        lines.append(f"  declared: {'; '.join(declared)}")
    lines.append(f"  target:   {target}")
    lines.append(f"  state:    {state}")
    if evidence:
        lines.append(f"  evidence: {evidence}")
    if held:
        lines.append(f"  held:     {held}")
    lines.append(f"History ({len(records)} record(s), oldest first):")
    lines.extend(event_line(r) for r in records)
    lines.append(f"Now: {verdict(state, records)}")
    return lines

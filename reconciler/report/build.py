"""The proof-of-erasure report as data: one JSON document (schemas/report.schema.json) that
the markdown and HTML renderers draw, and that `ledger verify --report` checks.

Per request (manifest): what was asked (owner, ticket, reason, dates, the commits that
added and changed it), per target and item what the vendor answered and when, with the
evidence kind and the ledger record that says so (its id and place), what is still open
and why, and the vendor's caveats. Values are masked unless asked for. The document
carries the ledger's verification result and heads, the records it cites, and a seal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.config import Config
from reconciler.ledger.records import ACCEPTED, DONE, DRIFTED, FAILED, PENDING, REJECTED, UNKNOWN
from reconciler.ledger.store import Ledger
from reconciler.ledger.verify import item_events, ledger_problems
from reconciler.manifests import LoadResult, Manifest
from reconciler.manifests.deadlines import iso, parse_moment
from reconciler.masking import scrub
from reconciler.plan.deadlines import ManifestDeadline, manifest_deadlines, manifest_names
from reconciler.plan.model import Action, Plan
from reconciler.render.describe import describe
from reconciler.report.gitinfo import file_commits
from reconciler.report.seal import seal_of
from reconciler.vendors.registry import vendor as vendor_of

FORMAT_VERSION = "1"
VALUES_WARNING = (
    "WARNING: this report shows raw identifier values (--show-values). It holds personal "
    "data: store and share it as such."
)
KIND = "reconciler-report"

# evidence kinds, as the report says them
REMOVED = "removed"
ABSENT = "already absent"
CONFIRMED = "confirmed by refresh"
RESOLVED = "resolved by a person"
ACCEPTED_KIND = "accepted, awaiting confirmation"
OPEN_WHY = {
    PENDING: "never sent: the next apply sends it",
    UNKNOWN: "sent, no answer recorded: the next apply sends it again",
    FAILED: "the last attempt failed: the next apply retries it",
    REJECTED: "the vendor refused it: not retried until the manifest entry changes",
    DRIFTED: "found back at the vendor after removal: the next apply removes it again",
}


@dataclass(frozen=True)
class Selection:
    manifests: tuple[str, ...] = ()
    ticket: str | None = None
    since: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "manifests": list(self.manifests),
            "ticket": self.ticket,
            "since": iso(self.since),
        }


@dataclass
class _Item:
    action: Action
    events: list[dict[str, Any]] = field(default_factory=list)


def build_report(
    config: Config,
    plan: Plan,
    loaded: LoadResult,
    ledger: Ledger,
    key: bytes | None,
    selection: Selection,
    now: dt.datetime,
    show_values: bool = False,
) -> dict[str, Any]:
    """The sealed report document. Raises ValueError naming what the selection missed."""
    chosen = _select(loaded.manifests, selection)
    names = {m.name for m in chosen}
    items: dict[str, list[_Item]] = {name: [] for name in names}
    by_key: dict[str, list[_Item]] = {}
    for tp in plan.targets:
        for action in tp.actions:
            mine = manifest_names(action) & names
            for name in mine:
                entry = _Item(action)
                items[name].append(entry)
                by_key.setdefault(action.fingerprint[:32], []).append(entry)
    if by_key and ledger.exists:
        for event in item_events(config.ledger_dir, cite=True, storage=ledger.storage):
            if event["type"] in ("result", "refresh", "resolution"):
                for entry in by_key.get(event["fp"], ()):
                    entry.events.append(event)
    if selection.since is not None:
        chosen = [m for m in chosen if _recent(m, items[m.name], selection.since)]
        if not chosen:
            raise ValueError(
                f"--since {iso(selection.since)}: no request was made or acted on since"
            )
    deadlines, _ = manifest_deadlines(plan, chosen, ledger, now, only_dated=False)
    by_name = {row.manifest.name: row for row in deadlines}
    requests = [
        _request(config, m, items[m.name], by_name[m.name], show_values)
        for m in sorted(chosen, key=lambda m: _by_due(by_name[m.name]))
    ]
    # what made the plan distrust the ledger (its chain, MACs, and what git committed)
    problems = list(plan.ledger_errors) or ledger_problems(ledger)
    document: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "generated_at": iso(now),
        "selection": selection.as_json(),
        "values_shown": show_values,
        "warnings": [VALUES_WARNING] if show_values else [],
        "ledger": {
            "path": _relative(config.ledger_dir, config.root),
            "exists": ledger.exists,
            "verified": not problems,
            "keyed": bool(ledger.header is not None and ledger.header.keyed),
            "records": ledger.records,
            "heads": list(ledger.heads),
            "serial": ledger.serial,
            "problems": problems[:20],
        },
        "summary": _summary(requests),
        "requests": requests,
        "cited": sum(len(i["events"]) for r in requests for i in r["items"]),
    }
    document["seal"] = seal_of(document, key)
    return document


def _by_due(row: ManifestDeadline) -> tuple[bool, str, str]:
    """Requests by due date (ISO strings sort as times), undated last, then by name."""
    return (row.due is None, iso(row.due) or "", row.manifest.name)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return path.name


def _select(manifests: Sequence[Manifest], selection: Selection) -> list[Manifest]:
    chosen = list(manifests)
    if selection.manifests:
        known = {m.name for m in manifests}
        missing = [n for n in selection.manifests if n not in known]
        if missing:
            raise ValueError(f"--manifest {missing[0]}: no such manifest under specs/")
        chosen = [m for m in chosen if m.name in selection.manifests]
    if selection.ticket is not None:
        chosen = [m for m in chosen if m.ticket == selection.ticket]
        if not chosen:
            raise ValueError(f"--ticket {selection.ticket}: no manifest has that ticket")
    if not chosen:
        raise ValueError("no manifest to report on (specs/ declares none)")
    return chosen


def _recent(m: Manifest, entries: list[_Item], since: dt.datetime) -> bool:
    if m.deadline is not None and m.deadline.requested_at and m.deadline.requested_at >= since:
        return True
    return any(_moment(e["ts"]) >= since for entry in entries for e in entry.events)


def _moment(ts: str) -> dt.datetime:
    try:
        return parse_moment(ts)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def walk_kind(events: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """(the evidence kind the events add up to, the event that gave it), walking them in
    chain order: a result sets its own evidence (None when it did not remove); a refresh
    that saw the item gone confirms an accepted (or unsettled) one and leaves a done one's
    evidence as it was (still gone), one that saw it present undoes it; a person's
    decision is `resolved`. Used to build a report and, by `ledger verify --report`, to
    check one."""
    kind: str | None = None
    deciding: dict[str, Any] | None = None
    for event in events:
        if event["type"] == "result":
            status = event.get("status")
            if status == DONE:
                kind = {"absent": ABSENT, "confirmed": CONFIRMED, "resolved": RESOLVED}.get(
                    str(event.get("evidence")), REMOVED
                )
            elif status == ACCEPTED:
                kind = ACCEPTED_KIND
            else:
                kind = None
            deciding = event
        elif event["type"] == "refresh":
            seen = event.get("observed")
            if seen == "absent" and kind in (None, ACCEPTED_KIND):
                kind, deciding = CONFIRMED, event
            elif seen == "present":
                kind, deciding = None, event
        elif event["type"] == "resolution":
            kind = RESOLVED if event.get("as") in ("done", "absent") else None
            deciding = event
    return kind, deciding


def _settle(state: str, events: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any] | None]:
    """(the evidence kind, the event that gave it) for an item the ledger says is in
    `state` (see walk_kind)."""
    kind, deciding = walk_kind(events)
    if state == ACCEPTED:
        return ACCEPTED_KIND, deciding
    if state != DONE:
        return None, deciding
    return kind or REMOVED, deciding


def _event_json(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": event["type"],
        "at": event["ts"],
        "run": event.get("run"),
        "commit": event.get("commit"),
        "record": event.get("record"),
        "where": event.get("where"),
    }
    if event["type"] != "resolution" and event.get("who"):
        out["by"] = str(event["who"])  # who ran the apply or refresh (the run's record)
    if event["type"] == "result":
        out["status"] = event.get("status")
        for name in ("evidence", "code", "vendor_code", "request_id"):
            if event.get(name) is not None:
                out[name] = event[name]
        if event.get("message"):
            out["message"] = scrub(str(event["message"]))
    elif event["type"] == "refresh":
        out["observed"] = event.get("observed")
    else:
        out["as"] = event.get("as")
        out["who"] = str(event.get("who") or "")  # the person who decided, as ledger show says
        out["reason"] = scrub(str(event.get("reason") or ""), ids=False)
    return out


def _item_json(entry: _Item, show_values: bool) -> dict[str, Any]:
    action = entry.action
    state = action.state
    evidence, deciding = _settle(state, entry.events)
    out: dict[str, Any] = {
        "fingerprint": action.fingerprint[:32],
        "target": action.target,
        "description": describe(action.item, show_values),
        "state": "held" if action.held else state,
        "evidence": evidence,
        "at": deciding["ts"] if deciding else None,
        "record": deciding.get("record") if deciding else None,
        "events": [_event_json(e) for e in entry.events],
    }
    if action.held:
        out["open"] = "held for a person: sent, its answer lost, and not safe to send again"
    elif state not in (DONE, ACCEPTED):
        out["open"] = OPEN_WHY.get(state, state)
        if state == REJECTED and deciding and deciding.get("message"):
            out["open"] += f" (the vendor said: {scrub(str(deciding['message']))})"
    return out


def counts_of(items: Iterable[dict[str, Any]]) -> dict[str, int]:
    """A request's (or target's) counts from its items, as the report states them."""
    return _counts(items)


def _counts(items: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = {
        "total": 0,
        "done": 0,
        REMOVED: 0,
        ABSENT: 0,
        CONFIRMED: 0,
        RESOLVED: 0,
        "accepted": 0,
        "held": 0,
        "failed": 0,
        "rejected": 0,
        "pending": 0,
    }
    for item in items:
        counts["total"] += 1
        state = item["state"]
        if state == DONE:
            counts["done"] += 1
            counts[item["evidence"]] += 1
        elif state == ACCEPTED:
            counts["accepted"] += 1
        elif state == "held":
            counts["held"] += 1
        elif state == FAILED:
            counts["failed"] += 1
        elif state == REJECTED:
            counts["rejected"] += 1
        else:
            counts["pending"] += 1
    return counts


def verdict(counts: dict[str, int], systems: int) -> str:
    """One sentence: "Complete: 1,204 item(s) removed from 3 systems; 2 held for review"."""
    total, done = counts["total"], counts["done"]
    where = f"{systems} system{'s' if systems != 1 else ''}"
    stuck = counts["held"] + counts["failed"] + counts["rejected"]
    head = "Incomplete" if stuck else "In progress"
    parts = [f"{head}: {done:,} of {total:,} item(s) removed from {where}"]
    if done == total:
        parts = [f"Complete: {done:,} item(s) removed from {where}"]
    if counts[ABSENT]:
        parts.append(f"{counts[ABSENT]:,} of them already absent")
    if counts["accepted"]:
        parts.append(f"{counts['accepted']:,} accepted, awaiting confirmation")
    if counts["held"]:
        parts.append(f"{counts['held']:,} held for review")
    if counts["failed"]:
        parts.append(f"{counts['failed']:,} failed (retried by the next apply)")
    if counts["rejected"]:
        parts.append(f"{counts['rejected']:,} rejected by the vendor")
    if counts["pending"]:
        parts.append(f"{counts['pending']:,} not yet sent")
    return "; ".join(parts)


def request_verdict(counts: dict[str, int], systems: int, overdue_since: str | None) -> str:
    text = verdict(counts, systems)
    return text + (f"; OVERDUE: it was due {overdue_since}" if overdue_since else "")


def _timeline(items: list[dict[str, Any]]) -> list[list[Any]]:
    """[time, items done by then] at each time an item became done (burn-down data)."""
    times = sorted(i["at"] for i in items if i["state"] == DONE and i["at"])
    out: list[list[Any]] = []
    for n, ts in enumerate(times, 1):
        if out and out[-1][0] == ts:
            out[-1][1] = n
        else:
            out.append([ts, n])
    return out


def _request(
    config: Config,
    m: Manifest,
    entries: list[_Item],
    row: ManifestDeadline,
    show_values: bool,
) -> dict[str, Any]:
    item_docs = [_item_json(e, show_values) for e in entries]
    targets = []
    for name in sorted({i["target"] for i in item_docs}):
        mine = [i for i in item_docs if i["target"] == name]
        target = config.targets[name]
        v = vendor_of(target.vendor)
        targets.append(
            {
                "name": name,
                "vendor": target.vendor,
                "label": v.label,
                "counts": _counts(mine),
                "caveats": list(v.caveats),
                "timeline": _timeline(mine),
            }
        )
    counts = _counts(item_docs)
    file = Path(m.file)
    return {
        "manifest": m.name,
        "owner": m.owner,
        "ticket": m.ticket,
        "reason": scrub(m.reason, ids=False),
        "file": m.file,
        "line": m.line,
        "requested_at": iso(row.deadline.requested_at) if row.deadline else None,
        "due": iso(row.due),
        "regulation": row.deadline.regulation if row.deadline else None,
        "overdue": row.overdue,
        "status": row.status,
        "commits": file_commits(config.root, file if file.is_absolute() else Path.cwd() / file),
        "verdict": request_verdict(counts, len(targets), iso(row.due) if row.overdue else None),
        "counts": counts,
        "targets": targets,
        "items": item_docs,
    }


def _summary(requests: list[dict[str, Any]]) -> dict[str, Any]:
    counts = _counts(i for r in requests for i in r["items"])
    systems = len({t["name"] for r in requests for t in r["targets"]})
    return {"verdict": verdict(counts, systems), "counts": counts, "requests": len(requests)}

"""Deadlines in a plan: when each target's pending work will finish, and which manifests
will miss (or already missed) their due date.

The estimate, per target, if apply ran now: the requests its pending items become (the
vendor's own batching: Braze 50 ids of one type, Insider 1,000 users, one each for
Segment and Twilio), sent at the rate apply paces them (the vendor's documented limit in
its scope, lowered by the target's `rate_limit`, times the pacer's headroom), plus, for a
vendor that queues deletions, the time its queue takes (the vendor's `queue_delay` when
it declares one, else QUEUE_DELAY: none of the built-in vendors documents one). Items
already accepted finish when their queue does (recorded time + queue delay). Over SAMPLE
pending items, an even sample of them is batched and the count scaled up (batching that
merges items of one subject, Insider's, is then undercounted: the estimate errs late). Apply sends
a target's items in no deadline order, so a manifest finishes when its targets' whole
pending work does. Held and rejected items never finish by themselves: a manifest with
any is `blocked` (a person decides).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.apply.limits import scope_and_rate
from reconciler.apply.pacing import HEADROOM
from reconciler.ledger.records import ACCEPTED, DONE, REJECTED
from reconciler.ledger.store import Ledger
from reconciler.manifests import Manifest
from reconciler.manifests.deadlines import Deadline, iso
from reconciler.plan.model import Action, Plan, TargetPlan
from reconciler.vendors.registry import vendor as vendor_of

# What a vendor's queue takes when it does not say: refresh's default --queue-window,
# the time after which an accepted item still present counts as drifted
QUEUE_DELAY = dt.timedelta(hours=1)
# pending items a target's estimate batches at most: more are sampled evenly, scaled up
SAMPLE = 20_000

DONE_STATUS = "done"
IN_PROGRESS = "in progress"  # nothing left to send: accepted, awaiting confirmation
PENDING_STATUS = "pending"  # items to send
BLOCKED = "needs a person"  # held or rejected items: they never finish by themselves


@dataclass(frozen=True)
class TargetEstimate:
    """When one target's pending work finishes if apply runs at `now`."""

    target: str
    requests: int  # requests its sendable items become
    rate: float  # requests/s apply paces them at
    send_seconds: float
    queue_delay: dt.timedelta  # zero for a vendor that deletes at once
    finish: dt.datetime | None  # None: nothing to send, nothing queued

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "requests": self.requests,
            "rate_per_second": round(self.rate, 3),
            "send_seconds": round(self.send_seconds, 1),
            "queue_delay_seconds": int(self.queue_delay.total_seconds()),
            "finish": iso(self.finish),
        }


@dataclass
class ManifestDeadline:
    """One manifest's items against its due date."""

    manifest: Manifest
    deadline: Deadline | None
    items: int = 0
    done: int = 0
    accepted: int = 0
    to_send: int = 0
    held: int = 0
    rejected: int = 0
    targets: list[str] = field(default_factory=list)
    estimate: dt.datetime | None = None  # when the last item should be done
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def open(self) -> int:
        return self.items - self.done

    @property
    def status(self) -> str:
        if self.held or self.rejected:
            return BLOCKED
        if self.open == 0:
            return DONE_STATUS
        if self.to_send == 0:
            return IN_PROGRESS
        return PENDING_STATUS

    @property
    def due(self) -> dt.datetime | None:
        return self.deadline.due if self.deadline is not None else None

    @property
    def overdue(self) -> bool:
        """Past its due date with items still open."""
        return self.due is not None and self.open > 0 and self.now > self.due

    @property
    def will_miss(self) -> bool:
        """Not yet due, but the estimate (or a held/rejected item) says it will be late."""
        if self.due is None or self.overdue or self.open == 0:
            return False
        if self.status == BLOCKED:
            return True
        return self.estimate is not None and self.estimate > self.due

    @property
    def needs_person(self) -> bool:
        """Overdue or going to miss: `--detailed-exitcode` exits 4."""
        return self.overdue or self.will_miss

    def verdict(self) -> str:
        """One line for the plan and status: where this request stands against its due date."""
        due = iso(self.due)
        if self.open == 0:
            return f"done ({self.items} item(s)), due {due}" if due else "done"
        if self.overdue:
            return f"OVERDUE: due {due}, {self.open} of {self.items} item(s) still open"
        if self.will_miss:
            if self.status == BLOCKED:
                return (
                    f"WILL MISS its due date {due}: {self.held} held and {self.rejected} "
                    "rejected item(s) wait for a person"
                )
            return (
                f"WILL MISS its due date {due}: estimated done {iso(self.estimate)} "
                f"({self.open} item(s) open)"
            )
        estimate = f", estimated done {iso(self.estimate)}" if self.estimate else ""
        return f"on time: due {due}{estimate} ({self.open} item(s) open)"

    def as_json(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "manifest": m.name,
            "owner": m.owner,
            "ticket": m.ticket,
            **(self.deadline.as_json() if self.deadline else {"requested_at": None, "due": None}),
            "status": self.status,
            "overdue": self.overdue,
            "will_miss": self.will_miss,
            "estimated_done": iso(self.estimate),
            "items": {
                "total": self.items,
                "done": self.done,
                "accepted": self.accepted,
                "to_send": self.to_send,
                "held": self.held,
                "rejected": self.rejected,
            },
            "targets": self.targets,
        }


def manifest_names(action: Action) -> set[str]:
    """The manifests an action's item is declared in, without making Sources."""
    refs, split = action.refs, action.table.split
    if isinstance(refs, int):
        return {split(refs)[0][0]}
    return {split(r)[0][0] for r in refs}


def queue_delay(vendor_name: str) -> dt.timedelta:
    v = vendor_of(vendor_name)
    if not v.capabilities.asynchronous:
        return dt.timedelta(0)
    declared = getattr(v, "queue_delay", None)
    if isinstance(declared, dt.timedelta):
        return declared
    if isinstance(declared, int | float):
        return dt.timedelta(seconds=float(declared))
    return QUEUE_DELAY


def estimate_target(tp: TargetPlan, ledger: Ledger, now: dt.datetime) -> TargetEstimate:
    """When `tp`'s pending work finishes if apply starts at `now` (module docstring)."""
    target = tp.target
    v = vendor_of(target.vendor)
    builder = v.requests
    sends = tp.sends()
    seconds = 0.0
    requests = 0
    rate_shown = 0.0
    if sends:
        # a large target is estimated from an even sample, scaled up: an estimate, and
        # rebuilding a million items to batch them would cost as much as the plan
        step = max(1, len(sends) // SAMPLE)
        sample = sends[::step]
        scale = len(sends) / len(sample)
        by_kind: dict[str, float] = {}
        for batch in builder.batches([(a.fingerprint, a.item) for a in sample]):
            kind = builder.kind([item for _, item in batch])
            by_kind[kind] = by_kind.get(kind, 0) + scale
        for kind, scaled in by_kind.items():
            count = math.ceil(scaled - 1e-9)
            _, rate = scope_and_rate(target, kind)
            rate *= HEADROOM
            seconds += count / rate if rate > 0 else math.inf
            requests += count
            rate_shown = rate if not rate_shown else min(rate_shown, rate)
    delay = queue_delay(target.vendor)
    finish: dt.datetime | None = None
    if sends:
        finish = now + dt.timedelta(seconds=min(seconds, 1e9)) + delay
    accepted = [
        ledger.items.get(a.fingerprint) for a in tp.actions if a.state == ACCEPTED and not a.held
    ]
    for status in accepted:
        if status is None:
            continue
        queued = _when(status.ts) + delay
        settled = max(queued, now)
        finish = settled if finish is None else max(finish, settled)
    return TargetEstimate(target.name, requests, rate_shown, seconds, delay, finish)


def _when(ts: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def manifest_deadlines(
    plan: Plan,
    manifests: Iterable[Manifest],
    ledger: Ledger,
    now: dt.datetime,
    only_dated: bool = True,
) -> tuple[list[ManifestDeadline], list[TargetEstimate]]:
    """Each manifest (with a deadline, unless not `only_dated`) against the plan, ordered
    by due date (none last, then by name); and the estimates of the targets they use."""
    chosen = [m for m in manifests if m.deadline is not None or not only_dated]
    rows = {m.name: ManifestDeadline(m, m.deadline, now=now) for m in chosen}
    if not rows:
        return [], []
    used: dict[str, set[str]] = {}
    for tp in plan.targets:
        for action in tp.actions:
            names = manifest_names(action) & rows.keys()
            for name in names:
                _count(rows[name], action)
                used.setdefault(name, set()).add(tp.target.name)
    wanted = {t for names in used.values() for t in names}
    wanted_dated = {t for name, ts in used.items() if rows[name].deadline for t in ts}
    estimates = {
        tp.target.name: estimate_target(tp, ledger, now)
        for tp in plan.targets
        if tp.target.name in (wanted_dated if only_dated else wanted)
    }
    for name, row in rows.items():
        row.targets = sorted(used.get(name, ()))
        if row.open == 0 or row.status == BLOCKED:
            continue
        finishes = [estimates[t].finish for t in row.targets if t in estimates]
        known = [f for f in finishes if f is not None]
        row.estimate = max(known) if known else None
    ordered = sorted(rows.values(), key=_order)
    return ordered, [estimates[n] for n in sorted(estimates)]


def _order(row: ManifestDeadline) -> tuple[int, dt.datetime, str]:
    due = row.due
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return (0 if due is not None else 1, due or far, row.manifest.name)


def _count(row: ManifestDeadline, action: Action) -> None:
    row.items += 1
    if action.held:
        row.held += 1
    elif action.state == DONE:
        row.done += 1
    elif action.state == ACCEPTED:
        row.accepted += 1
    elif action.state == REJECTED:
        row.rejected += 1
    elif action.will_send:
        row.to_send += 1


def overdue_manifests(rows: Sequence[ManifestDeadline]) -> dict[str, str]:
    """manifest name -> its due date, for every overdue manifest (to mark its items)."""
    return {r.manifest.name: iso(r.due) or "" for r in rows if r.overdue}

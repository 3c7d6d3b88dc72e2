"""The plan: one model, rendered as text, JSON and markdown by reconciler.render."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.config import Target
from reconciler.desired import Item, Source, SourceRefs, SourceTable, item_from_canonical
from reconciler.ledger.records import (
    ACCEPTED,
    ACTIONABLE,
    DONE,
    DRIFTED,
    FAILED,
    PENDING,
    REJECTED,
    UNKNOWN,
)
from reconciler.vendors.registry import vendor as vendor_of

if TYPE_CHECKING:
    from reconciler.plan.deadlines import ManifestDeadline, TargetEstimate

# What apply will do with an item, by its ledger state.
ACTION_BY_STATE = {
    PENDING: "remove",
    DRIFTED: "remove",
    UNKNOWN: "resend",
    FAILED: "retry",
    DONE: "none",
    ACCEPTED: "none",
    REJECTED: "none",
}

FORMAT_VERSION = "1"


@dataclass(slots=True)
class Action:
    """One desired item in a plan. Compact: the item is kept as its canonical bytes
    (shared with the desired state) and rebuilt when asked for."""

    fingerprint: str
    canonical: bytes
    vendor: str
    refs: SourceRefs
    table: SourceTable
    state: str
    # concurrent runs (merged branches) recorded conflicting outcomes: a person decides
    conflicted: bool = False
    since: str | None = None  # when the ledger recorded the state (shown for drifted ones)

    @classmethod
    def of(cls, fingerprint: str, item: Item, sources: list[Source], state: str) -> Action:
        table = SourceTable()
        refs = [table.pack(s) for s in sources]
        return cls(fingerprint, item.canonical(), item.vendor, refs, table, state)

    @property
    def item(self) -> Item:
        return item_from_canonical(self.canonical, self.vendor)

    @property
    def sources(self) -> list[Source]:
        return self.table.expand(self.refs)

    @property
    def target(self) -> str:
        end = self.canonical.index(b'"', 2)
        return self.canonical[2:end].decode("ascii")

    @property
    def action(self) -> str:
        return "hold" if self.held else ACTION_BY_STATE[self.state]

    @property
    def will_send(self) -> bool:
        return self.state in ACTIONABLE and not self.held

    @property
    def held(self) -> bool:
        """Not sent by apply; a person checks: the ledger holds conflicting outcomes for
        it from merged branches (ItemStatus.conflict), or it was sent, its answer was
        lost, and it is not safe to send again (the vendor says: Braze by email or phone,
        where a second request deletes the next user the prioritization picks)."""
        if self.conflicted:
            return True
        return self.state == UNKNOWN and vendor_of(self.vendor).held(self.item)

    @property
    def irreversible(self) -> bool:
        # the vendor deletes whole profiles (Braze)
        return vendor_of(self.vendor).capabilities.irreversible


@dataclass
class Summary:
    to_remove: int = 0
    already_removed: int = 0
    unknown: int = 0
    to_retry: int = 0
    rejected: int = 0
    held: int = 0

    def count(self, state: str, held: bool = False) -> None:
        if held:
            self.held += 1
        elif state in (PENDING, DRIFTED):
            self.to_remove += 1
        elif state in (DONE, ACCEPTED):
            self.already_removed += 1
        elif state == UNKNOWN:
            self.unknown += 1
        elif state == FAILED:
            self.to_retry += 1
        elif state == REJECTED:
            self.rejected += 1

    def add(self, other: Summary) -> None:
        self.to_remove += other.to_remove
        self.already_removed += other.already_removed
        self.unknown += other.unknown
        self.to_retry += other.to_retry
        self.rejected += other.rejected
        self.held += other.held

    @property
    def changes(self) -> int:
        """Items apply would send."""
        return self.to_remove + self.unknown + self.to_retry

    def as_json(self) -> dict[str, int]:
        return {
            "to_remove": self.to_remove,
            "already_removed": self.already_removed,
            "unknown": self.unknown,
            "to_retry": self.to_retry,
            "rejected": self.rejected,
            "held": self.held,
        }

    def line(self) -> str:
        """The public summary line; wrappers parse it, so its wording never changes."""
        if not self.changes and (self.rejected or self.held):
            notes = []
            if self.rejected:
                notes.append(
                    f"{self.rejected} item(s) were rejected by the vendor and are not retried "
                    "until their manifest entries change."
                )
            if self.held:
                notes.append(f"{self.held} item(s) are held for review (outcome unknown).")
            return "No changes. " + " ".join(notes)
        if not self.changes:
            return "No changes. Every declared absence is already recorded in the ledger."
        return (
            f"Plan: {self.to_remove} to remove, {self.already_removed} already removed, "
            f"{self.unknown} unknown, {self.to_retry} to retry, {self.held} held."
        )


@dataclass
class TargetPlan:
    target: Target
    actions: list[Action] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    orphaned: list[str] = field(default_factory=list)

    def sends(self) -> list[Action]:
        return [a for a in self.actions if a.will_send]


@dataclass
class LedgerRef:
    """The ledger snapshot a plan was made from: a saved plan is stale if it moved."""

    exists: bool
    lineage: str | None
    serial: int
    digest: str
    # the ids of the newest record of every branch (Ledger.head): apply refuses a ledger
    # that no longer holds them (records removed since the plan was made)
    head: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "exists": self.exists,
            "lineage": self.lineage,
            "serial": self.serial,
            "digest": self.digest,
            "head": self.head,
        }


@dataclass
class Plan:
    targets: list[TargetPlan]
    ledger: LedgerRef
    desired_digest: str
    fingerprint_scheme: str
    key_id: str
    target_filter: list[str] = field(default_factory=list)
    # target -> the account it reaches (Target.account): a saved plan is stale if it moves
    accounts: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    new_ledger_salt: str | None = None
    # what is wrong with the ledger the plan was made from; non-empty only when made
    # with --ignore-ledger-errors: then nothing the ledger says is proven
    ledger_errors: list[str] = field(default_factory=list)
    # manifests with a due date, by due date, and the estimates of their targets
    # (reconciler.plan.deadlines)
    deadlines: list[ManifestDeadline] = field(default_factory=list)
    estimates: list[TargetEstimate] = field(default_factory=list)

    @property
    def deadline_missed(self) -> bool:
        """A manifest is overdue or will miss its due date: a person must look."""
        return any(d.needs_person for d in self.deadlines)

    def overdue(self) -> dict[str, str]:
        """manifest name -> due date of every overdue manifest (its items are marked)."""
        return {d.manifest.name: d.verdict() for d in self.deadlines if d.overdue}

    @property
    def summary(self) -> Summary:
        total = Summary()
        for tp in self.targets:
            total.add(tp.summary)
        return total

    def actions(self) -> list[Action]:
        return [a for tp in self.targets for a in tp.actions]

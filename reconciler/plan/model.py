"""The plan: one model, rendered as text, JSON and markdown by reconciler.render."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from reconciler.desired import Item, Source, SourceRefs, SourceTable, item_from_canonical
from reconciler.spill import Sorter, SpillDir
from reconciler.states import (
    ACCEPTED,
    ACTION_BY_STATE,
    ACTIONABLE,
    DONE,
    DRIFTED,
    FAILED,
    PENDING,
    REJECTED,
    UNKNOWN,
    PlanAction,
    State,
)
from reconciler.target import Target
from reconciler.vendors.registry import vendor as vendor_of

if TYPE_CHECKING:
    from reconciler.plan.deadlines import ManifestDeadline, TargetEstimate

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
    def action(self) -> PlanAction:
        return PlanAction.HOLD if self.held else ACTION_BY_STATE[self.state]

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


class _Lazy(Sequence[Action]):
    """A sequence of actions read again on every pass; indexing walks to the place (the
    renderers slice heads and samples: a few hundred items)."""

    def __iter__(self) -> Iterator[Action]:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def __len__(self) -> int:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Action: ...

    @overload
    def __getitem__(self, index: slice) -> list[Action]: ...

    def __getitem__(self, index: int | slice) -> Action | list[Action]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step < 0:
                return list(self)[index]
            return list(itertools.islice(self, start, stop, step))
        at = index + len(self) if index < 0 else index
        for found in itertools.islice(self, at, None):
            return found
        raise IndexError(index)


_STATE_OF: dict[str, str] = {s.value: s for s in State}

ActionRecord = tuple[int, str, bytes, SourceRefs, str, bool, "str | None"]
"""A spilled action: (plan position, fingerprint, canonical, refs, state, conflicted,
since); first the key a Sorter sorts by."""


class SpilledActions(_Lazy):
    """A target's actions when the desired state was spilled (DesiredState.spill_at):
    on disk in plan order (first declared first, as in memory), rebuilt on each pass.
    `by_fingerprint()` sorts them once more, on disk, for the saved plan: during the
    next whole pass in plan order when one comes first (the saved plan's layout digest
    reads them so), else by a pass of its own."""

    def __init__(
        self,
        records: Sorter,
        vendor: str,
        table: SourceTable,
        sends: int,
        limit: int,
        dated: bool = True,
    ) -> None:
        self.records = records.finish(passes=2)
        self.vendor = vendor
        self.table = table
        self.send_count = sends
        self.limit = limit
        self.dated = dated  # whether any action may have a `since` (False: none has)
        self._by_fp: Sorter | None = None
        self._want_by_fp = False  # asked for: the next whole pass in plan order sorts

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Action]:
        if self._want_by_fp and self._by_fp is None:
            return self._sorting()
        return self._actions(self.records, 1)

    def _sorting(self) -> Iterator[Action]:
        """The actions in plan order, each record also added to the sort by fingerprint,
        which is kept if the pass ends (a pass left early, a head of the plan, drops it)."""
        by_fp = Sorter(self.spill, self.limit)
        done = False
        try:
            yield from self._actions(_feeding(self.records, by_fp), 1)
            done = True
        finally:
            if done and self._by_fp is None:
                self._by_fp = by_fp.finish(passes=self._by_fp_passes)
            else:
                by_fp.drop()

    def _actions(self, records: Iterable[Any], fp_at: int) -> Iterator[Action]:
        """Actions of records: (position, fingerprint, ...) in plan order, or
        (fingerprint, position, ...) sorted by fingerprint (`fp_at` says which)."""
        vendor, table, state = self.vendor, self.table, _STATE_OF.get
        for r in records:
            yield Action(r[fp_at], r[2], vendor, r[3], table, state(r[4], r[4]), r[5], r[6])

    @property
    def spill(self) -> SpillDir:
        return self.records.spill

    def sends(self) -> Sequence[Action]:
        return _Sends(self, self.send_count)

    def positioned(self) -> Iterator[tuple[int, Action]]:
        """(plan position, action), in plan order."""
        return self._positioned(self.records, 0, 1)

    def positioned_by_fingerprint(self) -> Iterator[tuple[int, Action]]:
        """(plan position, action), sorted by fingerprint."""
        return self._positioned(self._sorted_by_fp(), 1, 0)

    def _positioned(
        self, records: Iterable[Any], seq_at: int, fp_at: int
    ) -> Iterator[tuple[int, Action]]:
        vendor, table, state = self.vendor, self.table, _STATE_OF.get
        for r in records:
            action = Action(r[fp_at], r[2], vendor, r[3], table, state(r[4], r[4]), r[5], r[6])
            yield r[seq_at], action

    @property
    def _by_fp_passes(self) -> int:
        # saving a plan reads it once (the items) unless the header numbers `since`
        # values first; a sorter read more than once is merged into one run. (Apply's
        # check of a saved plan reads it twice, merging the runs each time: the same I/O.)
        return 2 if self.dated else 1

    def by_fingerprint(self) -> Iterable[Action]:
        """The actions sorted by fingerprint, iterable again; sorted when first read, or
        during a whole pass in plan order before that."""
        self._want_by_fp = True
        return _Reread(self)

    def _sorted_by_fp(self) -> Sorter:
        if self._by_fp is None:
            by_fp = Sorter(self.spill, self.limit)
            for _ in _feeding(self.records, by_fp):
                pass
            self._by_fp = by_fp.finish(passes=self._by_fp_passes)
        return self._by_fp


def _feeding(records: Iterable[Any], by_fp: Sorter) -> Iterator[Any]:
    """`records` (position first), each also added to `by_fp` keyed by its fingerprint."""
    add = by_fp.add
    for r in records:
        add((r[1], r[0], *r[2:]))
        yield r


class _Reread(Iterable[Action]):
    def __init__(self, actions: SpilledActions) -> None:
        self.actions = actions

    def __iter__(self) -> Iterator[Action]:
        return self.actions._actions(self.actions._sorted_by_fp(), 0)


class _Sends(_Lazy):
    """The actions of a SpilledActions that apply sends (their number counted once)."""

    def __init__(self, actions: Iterable[Action], count: int) -> None:
        self.actions = actions
        self.total = count

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[Action]:
        return (a for a in self.actions if a.will_send)


class Picked(_Lazy):
    """The actions of a SpilledActions at some plan positions (a sorter of (position,)
    records), in plan order, read from disk again on each pass."""

    def __init__(self, actions: SpilledActions, positions: Sorter) -> None:
        self.actions = actions
        self.positions = positions.finish(passes=2)

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self) -> Iterator[Action]:
        wanted = iter(self.positions)
        at = next(wanted, None)
        if at is None:
            return
        for seq, action in self.actions.positioned():
            if seq == at[0]:
                yield action
                at = next(wanted, None)
                if at is None:
                    return


class Chained(_Lazy):
    """Several targets' sends as one sequence (apply's sends of a spilled plan); `names`:
    the target of each part, when each part is one target's."""

    def __init__(
        self, parts: Sequence[Sequence[Action]], names: Sequence[str] | None = None
    ) -> None:
        self.parts = parts
        self.names = names

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def __iter__(self) -> Iterator[Action]:
        return itertools.chain.from_iterable(self.parts)


class Blanks(Sequence[str]):
    """`n` empty strings without holding them: a spilled plan's orphaned items, of
    which only the number is ever shown."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [""] * len(range(*index.indices(self.n)))
        if not -self.n <= index < self.n:
            raise IndexError(index)
        return ""


# an action's fingerprint, the saved plan's sort key (attrgetter: no Python frame a call)
_fingerprint = operator.attrgetter("fingerprint")


@dataclass
class TargetPlan:
    """One target's part of the plan. `actions` is a list, in plan order; when the
    desired state was spilled to disk it is a SpilledActions (the same actions in the
    same order, read from disk on each pass)."""

    target: Target
    actions: Sequence[Action] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    orphaned: Sequence[str] = field(default_factory=list)

    @property
    def spilled(self) -> bool:
        return isinstance(self.actions, SpilledActions)

    def sends(self) -> Sequence[Action]:
        if isinstance(self.actions, SpilledActions):
            return self.actions.sends()
        return [a for a in self.actions if a.will_send]

    def counted_sends(self) -> int | None:
        """How many actions apply sends, when that is known without a pass over them and
        none has a `since` (a spilled plan counted both as it was built); else None."""
        if isinstance(self.actions, SpilledActions) and not self.actions.dated:
            return self.actions.send_count
        return None

    def by_fingerprint(self) -> Iterable[Action]:
        """The actions sorted by fingerprint (the saved plan's order); iterable again."""
        if isinstance(self.actions, SpilledActions):
            return self.actions.by_fingerprint()
        return sorted(self.actions, key=_fingerprint)


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

    def sends(self) -> Sequence[Action]:
        """What apply sends, in plan order: a list, or read from disk again on each pass
        when the plan was spilled."""
        if any(tp.spilled for tp in self.targets):
            return Chained(
                [tp.sends() for tp in self.targets], [tp.target.name for tp in self.targets]
            )
        return [a for tp in self.targets for a in tp.sends()]

"""A saved plan against a plan made now: one merge over fingerprints, never a table.

The saved plan's records are sorted by fingerprint within each target, so each target's
actions made now are sorted the same way and the two walk side by side: the saved side
is streamed from the file (one chunk in memory), whatever the plan's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

from reconciler.errors import ReconcilerError
from reconciler.plan.model import Action, Chained, Picked, Plan, SpilledActions
from reconciler.plan.planfile import STATES, SavedPlan, flags_of
from reconciler.plan.planframe import (
    CONFLICTED_FLAG,
    FP_BYTES,
    HELD_FLAG,
    STATE_MASK,
    Record,
)
from reconciler.spill import Sorter
from reconciler.states import ACTION_BY_STATE, SENT_ACTIONS, PlanAction

_HEX = FP_BYTES * 2


def state_of(record: Record) -> str:
    code = record.flags & STATE_MASK
    if code >= len(STATES):
        raise ReconcilerError("a saved plan record names no state")
    return STATES[code]


def action_of(record: Record) -> PlanAction:
    return PlanAction.HOLD if record.flags & HELD_FLAG else ACTION_BY_STATE[state_of(record)]


def sends(record: Record) -> bool:
    return action_of(record) in SENT_ACTIONS


def conflicted(record: Record) -> bool:
    return bool(record.flags & CONFLICTED_FLAG)


def joined(saved: SavedPlan, plan: Plan) -> Iterator[tuple[str, Action | None, Record | None]]:
    """(target, action made now or None, saved record or None) for every item of either,
    target by target in the saved plan's order, then the plan's other targets. The MAC
    is checked again when the saved records end: consume it to the end before acting."""
    by_target = {tp.target.name: tp for tp in plan.targets}
    records = saved.records()
    pending = next(records, None)
    for section, (name, _) in enumerate(saved.sections):
        tp = by_target.pop(name, None)
        actions = iter(tp.by_fingerprint() if tp is not None else ())
        now = next(actions, None)
        while pending is not None and pending[0] == section:
            record = pending[1]
            fp = record.fp.hex()
            while now is not None and now.fingerprint[:_HEX] < fp:
                yield name, now, None
                now = next(actions, None)
            if now is not None and now.fingerprint[:_HEX] == fp:
                yield name, now, record
                now = next(actions, None)
            else:
                yield name, None, record
            pending = next(records, None)
        while now is not None:
            yield name, now, None
            now = next(actions, None)
    for name, tp in by_target.items():
        for action in tp.actions:
            yield name, action, None


def same_sends(saved: SavedPlan, plan: Plan) -> Sequence[Action]:
    """`apply PLANFILE`: the plan made now must be the saved one, item by item (state,
    held, since): the records a save would write now are compared with the file's bytes,
    a chunk at a time. Then its sends are the saved plan's. Raises the stale error
    otherwise, naming the first target that differs."""
    names = [tp.target.name for tp in plan.targets]
    counts = [len(tp.actions) for tp in plan.targets]
    same_shape = saved.sections == list(zip(names, counts, strict=True))
    ordered = [tp.by_fingerprint() for tp in plan.targets] if same_shape else []
    if not same_shape or not saved.holds_exactly(ordered):
        raise _differs(_first_difference(saved, plan))
    return plan.sends()


def _first_difference(saved: SavedPlan, plan: Plan) -> str:
    since = saved.since
    first = None
    for name, action, record in joined(saved, plan):
        if first is not None:
            continue  # read to the end: the MAC is checked there
        if action is None or record is None or flags_of(action) != record.flags:
            first = name
        elif action.since is not None and (
            record.since >= len(since) or since[record.since] != action.since
        ):
            first = name
    return first or (plan.targets[0].target.name if plan.targets else "none")


def _differs(target: str) -> ReconcilerError:
    return ReconcilerError(
        f"Saved plan is stale: the plan made now from the manifests and the ledger differs "
        f"from the saved one (target {target}). Nothing was sent.\n"
        "Make a new plan with `reconcile plan --out FILE` and review it."
    )


@dataclass
class ReviewedSends:
    """Lists; for a spilled plan, each target's read from disk again on each pass."""

    sends: Sequence[Action] = field(default_factory=list)  # pending now and reviewed
    unreviewed: Sequence[Action] = field(default_factory=list)  # pending now, never shown
    settled: int = 0  # shown in the review, no longer pending (another run sent them)


def reviewed_split(saved: SavedPlan, plan: Plan) -> ReviewedSends:
    """`apply --reviewed`: what is pending now AND was a send in the reviewed plan, in
    plan order."""
    if plan.targets and all(tp.spilled for tp in plan.targets):
        return _reviewed_spilled(saved, plan)
    chosen: set[str] = set()
    unreviewed: set[str] = set()
    out = ReviewedSends()
    for _, action, record in joined(saved, plan):
        now = action is not None and action.will_send
        then = record is not None and sends(record)
        if now and then:
            assert action is not None
            chosen.add(action.fingerprint)
        elif now:
            assert action is not None
            unreviewed.add(action.fingerprint)
        elif then:
            out.settled += 1
    picked: list[Action] = []
    left: list[Action] = []
    for tp in plan.targets:
        for action in tp.sends():
            if action.fingerprint in chosen:
                picked.append(action)
            elif action.fingerprint in unreviewed:
                left.append(action)
    out.sends, out.unreviewed = picked, left
    return out


def _reviewed_spilled(saved: SavedPlan, plan: Plan) -> ReviewedSends:
    """reviewed_split of a spilled plan, on disk: the walk beside the saved records notes
    the plan positions of the sends and of the unreviewed actions (sorted runs), and each
    target's are then read back from the plan in plan order (Picked)."""
    spilled = {tp.target.name: cast(SpilledActions, tp.actions) for tp in plan.targets}
    chosen = {name: Sorter(a.spill, a.limit) for name, a in spilled.items()}
    unreviewed = {name: Sorter(a.spill, a.limit) for name, a in spilled.items()}
    out = ReviewedSends()
    for name, at, action, record in _joined_at(saved, spilled):
        now = action is not None and action.will_send
        then = record is not None and sends(record)
        if now and then:
            chosen[name].add((at,))
        elif now:
            unreviewed[name].add((at,))
        elif then:
            out.settled += 1
    names = list(spilled)
    out.sends = Chained([Picked(spilled[n], chosen[n]) for n in names], names)
    out.unreviewed = Chained([Picked(spilled[n], unreviewed[n]) for n in names], names)
    return out


def _joined_at(
    saved: SavedPlan, spilled: dict[str, SpilledActions]
) -> Iterator[tuple[str, int, Action | None, Record | None]]:
    """joined() over spilled actions, with each action's plan position (-1: none)."""
    left = dict(spilled)
    records = saved.records()
    pending = next(records, None)
    for section, (name, _) in enumerate(saved.sections):
        actions = left.pop(name, None)
        walk = actions.positioned_by_fingerprint() if actions is not None else iter(())
        now = next(walk, None)
        while pending is not None and pending[0] == section:
            record = pending[1]
            fp = record.fp.hex()
            while now is not None and now[1].fingerprint[:_HEX] < fp:
                yield name, now[0], now[1], None
                now = next(walk, None)
            if now is not None and now[1].fingerprint[:_HEX] == fp:
                yield name, now[0], now[1], record
                now = next(walk, None)
            else:
                yield name, -1, None, record
            pending = next(records, None)
        while now is not None:
            yield name, now[0], now[1], None
            now = next(walk, None)
    for name, actions in left.items():
        for at, action in actions.positioned():
            yield name, at, action, None

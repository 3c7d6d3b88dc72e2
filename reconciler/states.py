"""An item's states and a plan's actions (CONTRACT section 5), as string enums.

Their values are the words the ledger records and the plan shows: a member equals, hashes
and serializes as its value, so records written before these enums existed read the same,
and `json.dumps` writes the same bytes.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """What the ledger knows of one item."""

    PENDING = "pending"  # declared, never sent
    UNKNOWN = "unknown"  # sent, no answer recorded (killed, a timeout): sent again
    ACCEPTED = "accepted"  # queued by an asynchronous vendor, not yet confirmed
    DONE = "done"  # removed or absent, with evidence
    FAILED = "failed"  # the vendor refused or broke: retried
    REJECTED = "rejected"  # the vendor says it can never be done as asked
    DRIFTED = "drifted"  # done once, seen present again by a refresh


class PlanAction(StrEnum):
    """What apply will do with an item."""

    REMOVE = "remove"
    RESEND = "resend"
    RETRY = "retry"
    NONE = "none"
    HOLD = "hold"  # a person decides first (`reconcile ledger resolve`)


PENDING = State.PENDING
UNKNOWN = State.UNKNOWN
ACCEPTED = State.ACCEPTED
DONE = State.DONE
FAILED = State.FAILED
REJECTED = State.REJECTED
DRIFTED = State.DRIFTED
STATES = tuple(s.value for s in State)  # the words, in this order (click choices, messages)
RESULT_STATES = frozenset({ACCEPTED, DONE, FAILED, REJECTED})
# States the next apply sends again
ACTIONABLE = frozenset({PENDING, UNKNOWN, FAILED, DRIFTED})

# What apply will do with an item, by its ledger state.
ACTION_BY_STATE: dict[str, PlanAction] = {
    PENDING: PlanAction.REMOVE,
    DRIFTED: PlanAction.REMOVE,
    UNKNOWN: PlanAction.RESEND,
    FAILED: PlanAction.RETRY,
    DONE: PlanAction.NONE,
    ACCEPTED: PlanAction.NONE,
    REJECTED: PlanAction.NONE,
}
# the actions of a saved plan that apply may send (never hold or none)
SENT_ACTIONS = frozenset({PlanAction.REMOVE, PlanAction.RESEND, PlanAction.RETRY})

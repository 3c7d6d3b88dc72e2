"""Which items a refresh reads: by state, target, age of their last record, and sample."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconciler.plan.model import Action, Plan
from reconciler.states import ACCEPTED, DONE, DRIFTED, UNKNOWN
from reconciler.vendors.api import Pair

# The states a read can settle: accepted (confirm), done (catch a reintroduction),
# drifted (confirm a second removal), unknown (an answer that was lost).
READABLE = (ACCEPTED, DONE, DRIFTED, UNKNOWN)
DEFAULT_STATES = (ACCEPTED, DONE)


@dataclass
class Selection:
    pairs: dict[str, list[Pair]] = field(default_factory=dict)  # target -> (fp, item)
    too_recent: int = 0  # recorded less than min-age ago: skipped
    unsampled: int = 0  # left out by --sample
    # accepted less than the queue window ago: a read that still finds them present means
    # the vendor has not run its queue yet, not that they came back
    queued: set[str] = field(default_factory=set)

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.pairs.values())


def _when(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def select(
    plan: Plan,
    record_times: dict[str, str],
    states: tuple[str, ...],
    min_age: timedelta,
    now: datetime,
    sample: int | None = None,
    rng: random.Random | None = None,
    queue_window: timedelta = timedelta(hours=1),
) -> Selection:
    """The declared items in `states` whose last record is at least `min_age` old
    (`record_times`: fingerprint -> the timestamp of the record that set its state),
    at most `sample` of them, chosen at random."""
    eligible: list[Action] = []
    selection = Selection()
    for tp in plan.targets:
        for action in tp.actions:
            if action.state not in states:
                continue
            when = _when(record_times.get(action.fingerprint, ""))
            if when is not None and now - when < min_age:
                selection.too_recent += 1
                continue
            if action.state == ACCEPTED and (when is None or now - when < queue_window):
                selection.queued.add(action.fingerprint)
            eligible.append(action)
    if sample is not None and sample < len(eligible):
        chosen = (rng or random.Random()).sample(range(len(eligible)), sample)
        selection.unsampled = len(eligible) - sample
        eligible = [eligible[i] for i in sorted(chosen)]
    for action in eligible:
        selection.pairs.setdefault(action.target, []).append((action.fingerprint, action.item))
    return selection

"""Smooth pacing under a rate limit that adapts to a budget shared with other traffic.

A generic cell rate algorithm in a few lines: a caller goes when `interval` has passed
since the previous one went, measured when it goes. Hand-written rather than aiolimiter
because that is a leaky bucket that lets a full bucket go out at once, which bursts over
per-second windows like Segment's; this never does.

Vendors' limits are often shared: Braze's 20,000/min with identify and merge, Insider's
25,000/min with User Upsert, Segment's 100/s perhaps with Profile API reads. So the rate
adapts, additive increase and multiplicative decrease (AIMD) as TCP does: a 429 halves
the rate and caps the ceiling a little under the rate that drew it; the rate then climbs
back linearly to that ceiling, and after a long quiet spell the ceiling itself climbs
back towards the documented limit. Production traffic in the same workspace keeps its
share, and at steady state we stay under what is left of the budget without 429s.

The vendor counts requests when they arrive, not when we release them. Between the two
a request is held a while: its intent's fsync or the ledger's round trip, the client's
own work. A hold that every request has only shifts the stream; one request held longer
than the rest (a slow fsync, a stall of the event loop, a new connection) lands among the
requests after it, one too many for their window. So each release is a `Slot` whose
request says when it left (the HTTP client reports when its headers were written), and
the usual hold is the least of the last HOLDS ones. A request held more than CATCH_UP
beyond it moves the next slot to an interval after it left; and while a released request
is overdue (its slot more than the usual hold and CATCH_UP ago, not yet left: the loop
stalled under it), the next release waits an interval, for it may be leaving only now.
Departures then keep the releases' guarantee: none more than CATCH_UP off an evenly
spaced schedule. (A usual hold that suddenly shrinks by more than the headroom's slack,
about 20 ms a window, can still crowd one window: nothing then can be done.)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from reconciler.rates import HEADROOM

# Lateness of up to this many seconds is made up rather than lost, so the event loop's
# wake-up jitter costs no throughput. Releases are then at most CATCH_UP behind an
# evenly spaced schedule, which still fits any 1-second window: (1 + 0.01) * HEADROOM < 1.
CATCH_UP = 0.01

# AIMD: a 429 halves the rate, never below FLOOR of the limit; the ceiling becomes
# CEILING_MARGIN of the rate the 429 came at; the rate climbs INCREASE of the limit per
# second back to the ceiling; after QUIET seconds without a 429 the ceiling climbs too,
# but slowly (PROBE of the limit per second): the other traffic may have stopped.
DECREASE = 0.5
FLOOR = 0.02
CEILING_MARGIN = 0.9
INCREASE = 0.05
QUIET = 60.0
PROBE = 0.01
# 429s within this many seconds of the one that lowered the rate are answers to requests
# already in flight: they pause, but do not lower the rate again.
SETTLE = 1.0
# The usual hold between a release and its request leaving: the least of this many last.
HOLDS = 32


class Slot:
    """One release: when it was due, and (once told) when its request left."""

    __slots__ = ("_open", "_pacer", "due")

    def __init__(self, pacer: Pacer, due: float) -> None:
        self._pacer = pacer
        self.due = due
        self._open = True

    def left(self, at: float | None = None) -> None:
        """Its request left, at `at` (now by default); idempotent."""
        if self._open:
            self._open = False
            self._pacer._left(self, self._pacer._clock() if at is None else at)

    def dropped(self) -> None:
        """Its request will not leave, or its leaving was not seen; idempotent."""
        if self._open:
            self._open = False
            self._pacer._open.pop(self, None)


class Pacer:
    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second <= 0:
            raise ValueError("a rate must be positive")
        self.limit = per_second
        self._clock = clock
        self._next = 0.0
        self._paused_until = 0.0
        self._rate = per_second
        self._ceiling = per_second
        self._last_change = clock()
        self._last_429: float | None = None
        self.throttled = 0  # 429s seen in this scope
        self.released = 0
        self._first: float | None = None
        self._last: float | None = None
        # released and not yet told that their request left, in release order (their
        # slots' order); the overdue ones are forgotten once a release has waited for them
        self._open: dict[Slot, None] = {}
        self._holds: deque[float] = deque(maxlen=HOLDS)  # how long the last ones were held
        self._usual = 0.0  # the least of them

    @property
    def per_second(self) -> float:
        """The rate the pacer sends at now (the limit until a 429 lowers it)."""
        self._adapt(self._clock())
        return self._rate

    @property
    def interval(self) -> float:
        return 1.0 / (self.per_second * HEADROOM)

    def effective_rate(self) -> float | None:
        """Requests released per second, first to last (None before two releases)."""
        if self._first is None or self._last is None or self.released < 2:
            return None
        span = self._last - self._first
        return (self.released - 1) / span if span > 0 else None

    def _adapt(self, now: float) -> None:
        """Additive increase since the last change, towards the ceiling (and the
        ceiling towards the limit after a quiet spell)."""
        elapsed = now - self._last_change
        if elapsed <= 0:
            return
        if self._last_429 is not None and now - self._last_429 > QUIET:
            self._ceiling = min(self.limit, self._ceiling + PROBE * self.limit * elapsed)
        self._rate = min(self._ceiling, self._rate + INCREASE * self.limit * elapsed)
        self._last_change = now

    async def acquire(self) -> Slot:
        """Wait for a slot and take it; tell the slot when its request leaves (or
        that it will not), or later releases assume it may still be about to."""
        # A slot is claimed when it is taken, never reserved ahead: callers that slept
        # through a stall of the event loop (an fsync, a client being built) would
        # otherwise all wake late together and go out as one burst.
        while True:
            now = self._clock()
            free = max(self._next, self._paused_until)
            if free <= now:
                self._adapt(now)
                if self._overdue(now):
                    # A request released before now has not left although its slot
                    # passed (the loop stalled under it): it may be leaving only now,
                    # so this one goes an interval later.
                    self._next = now + 1.0 / (self._rate * HEADROOM)
                    continue
                # A wake-up a little late is made up (the next turn counts from when
                # this one was due); a longer stall restarts the schedule from now.
                due = free if now - free <= CATCH_UP else now
                self._next = due + 1.0 / (self._rate * HEADROOM)
                self.released += 1
                if self._first is None:
                    self._first = now
                self._last = now
                slot = Slot(self, due)
                self._open[slot] = None
                return slot
            await asyncio.sleep(free - now)

    def _overdue(self, now: float) -> bool:
        """Whether a released request is overdue; those that are are forgotten (waited
        for once)."""
        found = False
        late = self._usual + CATCH_UP
        while self._open:
            oldest = next(iter(self._open))
            if now - oldest.due <= late:
                break
            del self._open[oldest]
            found = True
        return found

    def _left(self, slot: Slot, at: float) -> None:
        """The request released for `slot` left at `at`."""
        self._open.pop(slot, None)
        held = at - slot.due
        if held - self._usual > CATCH_UP:
            # held back longer than the others: the next one counts from when it left
            self._next = max(self._next, at + 1.0 / (self._rate * HEADROOM))
        self._holds.append(held)
        self._usual = min(self._holds)

    def pause(self, seconds: float) -> None:
        """Nobody sends on this scope for `seconds`."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def slow_down(self, seconds: float) -> None:
        """The vendor said slow down (429): pause, then halve the rate (AIMD)."""
        now = self._clock()
        self.throttled += 1
        self.pause(seconds)
        if self._last_429 is not None and now - self._last_429 < SETTLE:
            return
        self._adapt(now)
        self._ceiling = max(self.limit * FLOOR, self._rate * CEILING_MARGIN)
        self._rate = max(self.limit * FLOOR, self._rate * DECREASE)
        self._last_change = now
        self._last_429 = now

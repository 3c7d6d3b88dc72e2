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

The vendor counts requests when they arrive, not when we release them, and between the
two a request can be held: a slow fsync of its intent, a stall of the event loop (an
fsync or a collection elsewhere), a new connection. Held past its turn, it would land
among the requests after it, one too many for their window. So departures are paced
too: the HTTP client calls `depart()` as each request's headers are about to be written
(httpcore's trace), and a request that would leave too soon after the ones before waits
there, first come first served. The same cell rate algorithm on departures, with
CATCH_UP of tolerance and a slightly shorter interval (GATE): releases already space
requests, so in the usual case nobody waits; a hold every request has (the ledger's
fsync or round trip) shifts the stream without costing anything; and the requests after
one long hold, which wait at the gate, wait less each time until nobody does. A pause
(a 429) holds releases, not a request already on its way out: kept waiting on an open
connection it could find the connection closed, and a request not safe to send again
would then count as maybe sent. N+1 departures still span N * GATE / (N * HEADROOM) -
CATCH_UP = 1.0106 s: more than a 1-second window, with 10 ms for jitter on the way.
"""

from __future__ import annotations

import asyncio
import time
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
# The departure gate's interval, as a fraction of the releases': shorter, so a backlog
# behind one long hold drains (by 1% of an interval a request) instead of lasting.
GATE = 0.99


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
        self._departure = 0.0  # when the next request may leave (the gate's schedule)
        self._gate = asyncio.Lock()  # first come, first served (its waiters are FIFO)
        self.held_back = 0  # requests that waited at departure (held past their turn)

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

    async def acquire(self) -> None:
        # A slot is claimed when it is taken, never reserved ahead: callers that slept
        # through a stall of the event loop (an fsync, a client being built) would
        # otherwise all wake late together and go out as one burst.
        while True:
            now = self._clock()
            free = max(self._next, self._paused_until)
            if free <= now:
                self._adapt(now)
                # A wake-up a little late is made up (the next turn counts from when
                # this one was due); a longer stall restarts the schedule from now.
                due = free if now - free <= CATCH_UP else now
                self._next = due + 1.0 / (self._rate * HEADROOM)
                self.released += 1
                if self._first is None:
                    self._first = now
                self._last = now
                return
            await asyncio.sleep(free - now)

    async def depart(self) -> None:
        """Wait until a request may leave: GATE of an interval after the previous one
        left, less CATCH_UP of tolerance (the releases' own), in the order they came."""
        async with self._gate:
            waited = False
            while True:
                now = self._clock()
                free = self._departure - CATCH_UP
                if free <= now:
                    self._adapt(now)
                    step = GATE / (self._rate * HEADROOM)
                    self._departure = max(now, self._departure) + step
                    self.held_back += waited
                    return
                waited = True
                await asyncio.sleep(free - now)

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

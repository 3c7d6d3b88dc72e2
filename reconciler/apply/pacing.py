"""Smooth pacing under a rate limit: requests are spaced evenly, never in bursts.

A generic cell rate algorithm in a few lines: a caller goes when `interval` has passed
since the previous one went, measured when it goes. Hand-written rather than aiolimiter
because that is a leaky bucket that lets a full bucket go out at once, which bursts over
per-second windows like Segment's; this never does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Pace a little under the limit: vendors count in fixed windows aligned to the clock,
# and an evenly spaced stream at exactly the limit lands one over in some windows.
HEADROOM = 0.985

# Lateness of up to this many seconds is made up rather than lost, so the event loop's
# wake-up jitter costs no throughput. Releases are then at most CATCH_UP behind an
# evenly spaced schedule, which still fits any 1-second window: (1 + 0.01) * HEADROOM < 1.
CATCH_UP = 0.01


class Pacer:
    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second <= 0:
            raise ValueError("a rate must be positive")
        self.per_second = per_second
        self.interval = 1.0 / (per_second * HEADROOM)
        self._clock = clock
        self._next = 0.0
        self._paused_until = 0.0

    async def acquire(self) -> None:
        # A slot is claimed when it is taken, never reserved ahead: callers that slept
        # through a stall of the event loop (an fsync, a client being built) would
        # otherwise all wake late together and go out as one burst.
        while True:
            now = self._clock()
            free = max(self._next, self._paused_until)
            if free <= now:
                # A wake-up a little late is made up (the next turn counts from when
                # this one was due); a longer stall restarts the schedule from now.
                due = free if now - free <= CATCH_UP else now
                self._next = due + self.interval
                return
            await asyncio.sleep(free - now)

    def pause(self, seconds: float) -> None:
        """The vendor said slow down (429): nobody sends on this scope for `seconds`."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

"""Smooth pacing under a rate limit: requests are spaced evenly, never in bursts.

A generic cell rate algorithm in a few lines: each acquire reserves the next slot
`interval` after the previous one. Hand-written rather than aiolimiter because that is
a leaky bucket that lets a full bucket go out at once, which bursts over per-second
windows like Segment's; this never does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Pace a little under the limit: vendors count in fixed windows aligned to the clock,
# and an evenly spaced stream at exactly the limit lands one over in some windows.
HEADROOM = 0.97


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
        now = self._clock()
        slot = max(now, self._next, self._paused_until)
        self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        """The vendor said slow down (429): nobody sends on this scope for `seconds`."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

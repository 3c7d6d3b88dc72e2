"""Fixed-window rate limiters, one counter per (bucket, key).

Every vendor documents its limits as "N requests per period" (Segment 100/s per space,
Braze 20,000/min per key, Insider 25,000/min per key). The sandbox counts requests in
fixed windows aligned to the clock (a window starts at a multiple of the period), which
is what a ``X-RateLimit-Reset`` epoch header implies. ``rate_scale`` multiplies every
limit (``--rate-scale 0.1`` divides them by 10) so tests can reach them quickly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A documented limit: ``requests`` per ``period`` seconds."""

    requests: int
    period: float


@dataclass(frozen=True)
class Decision:
    """The outcome of counting one request against a limit."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the current window ends

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window resets (at least 1)."""
        return max(1, math.ceil(self.reset_at - time.time()))


class RateLimiter:
    """Counts requests per (bucket, key) in fixed windows."""

    def __init__(self, scale: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        if scale <= 0:
            raise ValueError("rate scale must be positive")
        self._scale = scale
        self._clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def scaled(self, limit: Limit) -> int:
        """The limit in force after scaling (never below 1)."""
        return max(1, round(limit.requests * self._scale))

    def hit(self, bucket: str, key: str, limit: Limit) -> Decision:
        """Count one request; say whether it is within the limit."""
        now = self._clock()
        window_start = math.floor(now / limit.period) * limit.period
        allowed_count = self.scaled(limit)
        start, count = self._windows.get((bucket, key), (window_start, 0))
        if start != window_start:
            count = 0
        count += 1
        self._windows[(bucket, key)] = (window_start, count)
        reset_at = window_start + limit.period
        allowed = count <= allowed_count
        return Decision(allowed, allowed_count, max(0, allowed_count - count), reset_at)

    def reset(self) -> None:
        """Forget every counter."""
        self._windows.clear()

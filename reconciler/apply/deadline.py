"""`apply --max-duration`: a deadline the engine asks before it takes each next batch.

Requests already sent finish and their answers are recorded; nothing new is taken once
the time is up, so a run stops cleanly between requests and the next run continues with
the items still pending (none of them was sent).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at = clock() + seconds
        self.reached = False  # True once a batch was left unsent because of it

    def __call__(self) -> bool:
        if self._clock() >= self._at:
            self.reached = True
        return self.reached

"""Ctrl-C and SIGTERM during apply or refresh: stop between requests, not in the middle.

CI runners cancel a job with SIGTERM (then SIGKILL a few seconds later), people press
Ctrl-C. Either way the first signal asks the run to stop taking new requests: requests in
flight get their answers recorded, the lock is released and a partial summary printed.
A second signal, or answers that take longer than the grace period, interrupt at once
(what was sent then has its intent in the ledger, so the next plan shows it unknown).
Exit codes are the shell's: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

import click

GRACE_SECONDS = 10.0  # GitHub Actions waits about this long between SIGTERM and SIGKILL
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Stopped at once; `code` is the exit code (128 + the signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


class StopRequest:
    """A `should_stop` for the engines that turns True at the first SIGINT or SIGTERM."""

    def __init__(self, what: str = "requests", grace: float = GRACE_SECONDS) -> None:
        self.what = what
        self.grace = grace
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        self._timer: threading.Timer | None = None
        self._finishing = False

    def __call__(self) -> bool:
        return self.signum is not None

    def finishing(self) -> None:
        """The run is closing its records and releasing its lock: from now on a signal
        (or the grace timer) only asks, never interrupts, so nothing recorded is lost."""
        self._finishing = True
        if self._timer is not None:
            self._timer.cancel()

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum or signal.SIGINT).name

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finishing()  # a timer already firing finds the run finishing: no raise
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._finishing:
            self.signum = self.signum or signum
            return
        if self.signum is not None:
            raise Interrupted(signum)
        self.signum = signum
        click.echo(
            f"\n{signal.Signals(signum).name}: stopping. No new {self.what} are sent; answers "
            f"in flight are recorded (up to {self.grace:.0f} s). Again to stop at once.",
            err=True,
        )
        # after the grace period, interrupt as a second signal would
        self._timer = threading.Timer(self.grace, self._late, (signum,))
        self._timer.daemon = True
        self._timer.start()

    def _late(self, signum: int) -> None:
        """The grace period is over: interrupt as a second signal would, unless the run
        has begun closing its records by now."""
        if not self._finishing:
            signal.raise_signal(signum)

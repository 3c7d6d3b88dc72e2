"""Progress of apply and refresh: one combined live line on a terminal, a line per target
every few seconds otherwise (CI logs).

Each target's rate counts from that target's start (targets start at different times and
run at their own vendor's pace), and items that failed are counted apart from those that
went through, so "3,000/3,000" never hides 3,000 failures.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import click


@dataclass
class _Target:
    start: float
    done: int = 0
    failed: int = 0
    total: int = 0

    def text(self, name: str, now: float, failed_label: str, ended: bool = False) -> str:
        ok = self.done - self.failed
        text = f"{name}: {self.done}/{self.total}"
        text += f" ({ok} ok, {self.failed} {failed_label})" if self.failed else " ok"
        elapsed = now - self.start
        if ended and self.done < self.total and not (elapsed >= 0.5 and self.done):
            text += ", stopped"
        if elapsed >= 0.5 and self.done:
            rate = self.done / elapsed
            if self.done >= self.total:
                text += f", {rate:.1f}/s, done"
            elif ended:
                text += f", {rate:.1f}/s, stopped"
            else:
                text += f", {rate:.1f}/s, ETA {(self.total - self.done) / rate:.0f}s"
        return text


class ProgressDisplay:
    def __init__(
        self,
        interactive: bool | None = None,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
        failed_label: str = "failed",
    ) -> None:
        self.failed_label = failed_label
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.every = every if not self.interactive else 0.2
        self._clock = clock
        self._width = width
        self._targets: dict[str, _Target] = {}
        self._last: dict[str, float] = {}
        self._shown = False

    def __call__(self, target: str, done: int, total: int, failed: int = 0) -> None:
        now = self._clock()
        state = self._targets.setdefault(target, _Target(now))
        state.done, state.total, state.failed = done, total, failed
        finished = done >= total
        key = "" if self.interactive else target
        if not finished and now - self._last.get(key, -1e9) < self.every:
            return
        self._last[key] = now
        if not self.interactive:
            if done or finished:
                click.echo(state.text(target, now, self.failed_label), err=True)
            return
        running = [n for n, t in self._targets.items() if t.done < t.total]
        if finished and not running:
            # every target done: the final line of each stays on the screen
            self._clear()
            for name, t in self._targets.items():
                click.echo(t.text(name, now, self.failed_label), err=True)
            self._targets.clear()
            self._shown = False
            return
        line = " | ".join(self._targets[n].text(n, now, self.failed_label) for n in running)
        width = self._width or shutil.get_terminal_size().columns
        if len(line) > width - 1:
            line = line[: max(0, width - 2)] + "…"
        click.echo(f"\r\033[K{line}", nl=False, err=True)
        self._shown = True

    @contextlib.contextmanager
    def closing(self) -> Iterator[ProgressDisplay]:
        try:
            yield self
        finally:
            self.close()

    def close(self) -> None:
        """End the display when the run ends, every target finished or not (one stopped
        early, a stop request): each target still counted as running gets its final
        line, marked stopped, so what is printed next starts on a line of its own."""
        now = self._clock()
        left = {n: t for n, t in self._targets.items() if t.done < t.total}
        if self.interactive:
            if not self._targets:
                return
            self._clear()
            shown = self._targets
        else:
            shown = left
        for name, t in shown.items():
            click.echo(t.text(name, now, self.failed_label, ended=True), err=True)
        self._targets.clear()
        self._shown = False

    def _clear(self) -> None:
        if self._shown:
            click.echo("\r\033[K", nl=False, err=True)

"""Apply progress: a live line per target on a terminal, a line every few seconds in CI."""

from __future__ import annotations

import sys
import time

import click


class ProgressDisplay:
    def __init__(self, interactive: bool | None = None, every: float = 5.0) -> None:
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.every = every if not self.interactive else 0.2
        self._start = time.monotonic()
        self._last: dict[str, float] = {}

    def __call__(self, target: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not finished and now - self._last.get(target, 0.0) < self.every:
            return
        self._last[target] = now
        elapsed = now - self._start
        text = f"{target}: {done}/{total} items"
        if elapsed >= 0.5:
            rate = done / elapsed
            eta = (total - done) / rate if rate > 0 else 0.0
            text += f" ({rate:.1f}/s" + (", done)" if finished else f", ETA {eta:.0f}s)")
        if self.interactive:
            click.echo(f"\r\033[K{text}", nl=finished, err=True)
        else:
            click.echo(text, err=True)

"""Intents written ahead: one ledger record for the next requests of a target.

Requests leave one at a time at the vendor's pace (Segment: one item a request, 100 a
second); an intent record per request would cost more bytes than the item itself. So
when a request is due whose intent is not yet written, the window writes ONE intent
record (fsynced) for it and the requests queued after it, up to MAX_ITEMS items, and
each of those is then sent without another write. Every request's intent is still
durable before the request leaves.

Only requests that are safe to send twice are announced ahead (a kill leaves their
items `unknown`, and the next apply sends them again, which is harmless for them). A
request that is not (Braze by email or phone) gets its own intent record just before it
is sent. Announced requests never sent (target stopped, held back) are withdrawn by
RunWriter.close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from reconciler.ledger.writer import RunWriter
from reconciler.vendors.api import Pair

MAX_ITEMS = 64


class _Request(Protocol):
    @property
    def idempotent(self) -> bool: ...


R = TypeVar("R", bound=_Request)
Batch = list[Pair]  # (fingerprint, item) pairs


class IntentWindow(Generic[R]):
    """The order requests are queued in, phase by phase, and which are announced."""

    def __init__(
        self,
        writer: RunWriter,
        target: str,
        phases: Sequence[Sequence[Batch]],
        build: Callable[[Batch], R],
        digest: Callable[[R], str],
        max_items: int = MAX_ITEMS,
    ) -> None:
        self.writer = writer
        self.target = target
        self.phases = [list(p) for p in phases]
        self.build = build
        self.digest = digest
        self.max_items = max_items
        self._cursor = [0] * len(self.phases)
        self._ready: dict[int, R] = {}  # id(batch) -> its request, announced, not sent

    def claim(self, batch: Batch) -> R:
        """The request for `batch`, its intent durable: call just before sending it."""
        fps = [fp for fp, _ in batch]
        request = self._ready.pop(id(batch), None)
        if request is not None:
            self.writer.claim(fps)
            return request
        request = self.build(batch)
        if not request.idempotent:
            self.writer.intents(fps, self.target, self.digest(request))
            return request
        ahead = self._ahead(batch)
        self.writer.intents_ahead(
            self.target,
            [(fps, self.digest(request)), *(([f for f, _ in b], self.digest(r)) for b, r in ahead)],
        )
        self.writer.claim(fps)
        for b, r in ahead:
            self._ready[id(b)] = r
        return request

    def _ahead(self, batch: Batch) -> list[tuple[Batch, R]]:
        """The requests queued right after `batch` in its phase, built, while they fit."""
        for p, phase in enumerate(self.phases):
            at = self._find(p, batch)
            if at is None:
                continue
            items = len(batch)
            out: list[tuple[Batch, R]] = []
            j = at + 1
            while j < len(phase) and items + len(phase[j]) <= self.max_items:
                request = self.build(phase[j])
                if not request.idempotent:
                    break
                out.append((phase[j], request))
                items += len(phase[j])
                j += 1
            self._cursor[p] = j
            return out
        return []

    def _find(self, p: int, batch: Batch) -> int | None:
        """Where `batch` is in phase p: at or after the cursor (workers take batches in
        queue order; skipped ones are passed over)."""
        phase = self.phases[p]
        for j in range(self._cursor[p], len(phase)):
            if phase[j] is batch:
                return j
        return None

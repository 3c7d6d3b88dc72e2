"""Reading selected items back from their vendors and recording what was seen.

Per target: the same preflight as apply (nothing is read when it fails), then the
vendor's reads, paced in its READ scope with the same retries and circuit breaker; a
read may ask for another (the next page, the canonical profile), followed a few times.
Every observation is recorded as a `refresh` record (present, absent, unverified); the
ledger's fold turns them into states (accepted + absent = done, confirmed; present =
drifted; unverified changes nothing). A killed refresh loses nothing it recorded, and a
rerun reads the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from reconciler.apply.client import RetryPolicy
from reconciler.apply.limits import READ
from reconciler.apply.session import Pacers, TargetSession, clean
from reconciler.config import Target
from reconciler.ledger.store import RunWriter
from reconciler.masking import Masker, raw_values
from reconciler.vendors.api import (
    ABSENT_SEEN,
    PRESENT,
    UNVERIFIED,
    Observation,
    Pair,
    Reader,
    VendorRequest,
)
from reconciler.vendors.registry import vendor

# reads that ask for another read (pages, a merged profile): followed this many times
MAX_FOLLOWS = 20


@dataclass
class RefreshWork:
    target: Target
    pairs: list[Pair]  # (fingerprint, item)
    states: dict[str, str]  # fingerprint -> its state before the read
    secrets: dict[str, str]
    queued: set[str] = field(default_factory=set)  # accepted recently: maybe still queued


@dataclass
class TargetCounts:
    confirmed: int = 0  # accepted (or unknown, or drifted) and now seen gone
    still_absent: int = 0  # done, and still gone
    drifted: int = 0  # seen present after a removal
    queued: int = 0  # accepted recently and still present: the vendor's queue has not run
    unverified: int = 0  # the read proved neither
    not_read: int = 0  # the target stopped first


@dataclass
class RefreshReport:
    by_target: dict[str, TargetCounts] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)
    cannot_read: list[str] = field(default_factory=list)  # targets whose vendor has no reader
    unverified_notes: dict[str, int] = field(default_factory=dict)  # why, how many

    def counts(self, target: str) -> TargetCounts:
        return self.by_target.setdefault(target, TargetCounts())

    def total(self) -> TargetCounts:
        out = TargetCounts()
        for c in self.by_target.values():
            out.confirmed += c.confirmed
            out.still_absent += c.still_absent
            out.drifted += c.drifted
            out.queued += c.queued
            out.unverified += c.unverified
            out.not_read += c.not_read
        return out


Progress = Callable[[str, int, int, int], None]
"""(target name, items read, items total, of those read: unverified)"""


class RefreshEngine:
    def __init__(
        self,
        writer: RunWriter,
        parallelism: int = 8,
        policy: RetryPolicy | None = None,
        progress: Progress | None = None,
        transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.writer = writer
        # asked before each batch is taken (Ctrl-C, SIGTERM): True leaves the rest unread
        self.should_stop = should_stop or (lambda: False)
        self.parallelism = max(1, parallelism)
        self.policy = policy or RetryPolicy()
        self.progress = progress
        self.transport = transport
        self.pacers = Pacers()
        self.report = RefreshReport()

    async def run(self, works: Sequence[RefreshWork]) -> RefreshReport:
        await asyncio.gather(*(self._run_target(w) for w in works if w.pairs))
        return self.report

    async def _run_target(self, work: RefreshWork) -> None:
        target = work.target
        reader = vendor(target.vendor).reader
        counts = self.report.counts(target.name)
        if reader is None:
            self.report.cannot_read.append(target.name)
            counts.not_read += len(work.pairs)
            return
        session = TargetSession(
            target,
            work.secrets,
            self.pacers,
            self.policy,
            self.transport,
            self.parallelism,
            self.report.stopped,
        )
        try:
            result = await session.preflight()
            if not result.ok:
                session.stop(session.preflight_problem(result))
                counts.not_read += len(work.pairs)
                return
            await self._read_all(session, reader, work, counts)
        finally:
            await session.close()

    async def _read_all(
        self, session: TargetSession, reader: Reader, work: RefreshWork, counts: TargetCounts
    ) -> None:
        queue: asyncio.Queue[list[Pair]] = asyncio.Queue()
        for batch in reader.read_batches(work.pairs):
            queue.put_nowait(batch)
        total, finished = len(work.pairs), 0
        if self.progress:
            self.progress(session.target.name, 0, total, 0)

        async def worker() -> None:
            nonlocal finished
            while not queue.empty():
                batch = queue.get_nowait()
                if session.check_breaker() or self.should_stop():
                    counts.not_read += len(batch)
                    continue
                seen = await self._read(session, reader, batch)
                self._record(session, work, batch, seen, counts)
                finished += len(batch)
                if self.progress:
                    self.progress(session.target.name, finished, total, counts.unverified)

        await asyncio.gather(*(worker() for _ in range(min(self.parallelism, queue.qsize()))))

    async def _read(
        self, session: TargetSession, reader: Reader, batch: list[Pair]
    ) -> list[Observation]:
        """What the vendor shows about each item of `batch`, following further reads."""
        items = [item for _, item in batch]
        out: list[Observation | None] = [None] * len(items)
        pending: dict[str, tuple[VendorRequest, list[int]]] = {}
        first = reader.read_request(session.target, items)
        pending[_key(first)] = (first, list(range(len(items))))
        client = session.client(READ)
        for _ in range(MAX_FOLLOWS + 1):
            if not pending:
                break
            follow: dict[str, tuple[VendorRequest, list[int]]] = {}
            for request, indexes in pending.values():
                sent = await client.send(request)
                if sent.stop:
                    session.stop(sent.stop)
                answer = sent.answer if sent.error is None else None
                seen = reader.observe(answer, request, [items[i] for i in indexes])
                for index, what in zip(indexes, seen, strict=True):
                    if isinstance(what, VendorRequest):
                        follow.setdefault(_key(what), (what, []))[1].append(index)
                    else:
                        out[index] = what
            pending = follow
        return [o or Observation(UNVERIFIED, "too many follow-up reads") for o in out]

    def _record(
        self,
        session: TargetSession,
        work: RefreshWork,
        batch: list[Pair],
        seen: list[Observation],
        counts: TargetCounts,
    ) -> None:
        records: list[tuple[str, str]] = []
        masker = Masker(v for _, item in batch for v in raw_values(item))
        for (fp, _item), what in zip(batch, seen, strict=True):
            before = work.states.get(fp)
            if what.seen == PRESENT and fp in work.queued:
                # accepted a short while ago: still in the vendor's queue, not back again
                records.append((fp, UNVERIFIED))
                counts.queued += 1
                continue
            records.append((fp, what.seen))
            if what.seen == PRESENT:
                counts.drifted += 1
            elif what.seen == ABSENT_SEEN:
                if before == "done":
                    counts.still_absent += 1
                else:
                    counts.confirmed += 1
            else:
                counts.unverified += 1
                note = clean(what.note, masker, session.redact) or "unverified"
                self.report.unverified_notes[note] = self.report.unverified_notes.get(note, 0) + 1
        self.writer.refreshes(session.target.name, records)


def _key(request: VendorRequest) -> str:
    return repr(request.as_json())

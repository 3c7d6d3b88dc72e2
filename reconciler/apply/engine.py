"""Sending one plan's items: preflight, batches, concurrency per target, ledger records.

Per target: a preflight (harmless reads proving host, account, credentials) before the
first delete, and nothing is sent when it fails; items the preflight shows cannot be
right (Twilio: an identifier type the store does not know) are not sent. For every
request: an `intent` per item (fsynced) before it is sent, a `result` per item (fsynced)
after the final answer, read by the vendor's evidence rules. An answer about the whole
target (credentials, a wrong base URL, an open circuit breaker) stops that target at
once; its remaining items stay pending. A kill at any instant leaves intents without
results, which the next plan shows as `unknown` and re-sends, or holds where sending
twice is not safe.

Memory: a target's items are read from the plan CHUNK_ITEMS at a time (a spilled plan's
from disk), batched and queued chunk by chunk, so what apply holds per target does not
grow with the plan: one chunk of items and its requests, counters, and the subjects of
earlier-phase items that did not settle (Insider; none when everything settles).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field

from reconciler.apply.client import RetryPolicy, Sent, Transport, VendorClient
from reconciler.apply.intents import IntentWindow
from reconciler.apply.pacing import Pacer
from reconciler.apply.session import Pacers, TargetSession, clean, request_token
from reconciler.desired import Fingerprinter, Item
from reconciler.evidence import (
    ACCEPTED,
    DONE,
    FAILED,
    REJECTED,
    UNKNOWN,
    Outcome,
    error_text,
)
from reconciler.ledger.store import RunWriter, result_fields
from reconciler.masking import Masker, mask, raw_values
from reconciler.plan.describe import describe
from reconciler.rates import DELETE, READ
from reconciler.target import Target
from reconciler.vendors.api import Pair, RequestBuilder, VendorRequest

# A target whose items come back "already absent" this often usually has wrong values or
# points at the wrong account: apply says so at the end.
ABSENT_SHARE_WARNING = 0.5
ABSENT_WARNING_MIN_ITEMS = 10

CHUNK_ITEMS = 10_000
"""Items of a target read from the plan, checked, batched and queued at a time. A plan
of at most this many items per target is batched whole, as one list."""


@dataclass
class TargetWork:
    """One target's items: (fingerprint, item) pairs in plan order, from any iterable
    that can be read more than once (a list, or a spilled plan's sends, read from disk
    again on each pass; a vendor with phases reads it once a phase). `count`: how many,
    when `pairs` has no length."""

    target: Target
    pairs: Iterable[Pair]
    secrets: dict[str, str]
    count: int | None = None

    @property
    def total(self) -> int:
        if self.count is not None:
            return self.count
        assert isinstance(self.pairs, Sized)
        return len(self.pairs)


@dataclass(frozen=True)
class ItemProblem:
    target: str
    fingerprint: str
    description: str
    state: str
    code: int | None
    message: str | None


class ProblemList(list[ItemProblem]):
    """The first KEEP item problems of a run, and how many there were (`len`): what
    apply shows is the first 20 and the JSON document the first 1,000, with the number
    of the rest, so a run where millions fail holds a thousand, not millions."""

    KEEP = 1_000

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def append(self, problem: ItemProblem) -> None:
        self.total += 1
        if super().__len__() < self.KEEP:
            super().append(problem)

    def extend(self, problems: Iterable[ItemProblem]) -> None:
        for problem in problems:
            self.append(problem)

    def __len__(self) -> int:
        return self.total


@dataclass
class Counts:
    removed: int = 0
    accepted: int = 0
    already_absent: int = 0
    failed: int = 0
    rejected: int = 0

    def count(self, outcome: Outcome) -> None:
        if outcome.state == DONE:
            if outcome.already_absent:
                self.already_absent += 1
            else:
                self.removed += 1
        elif outcome.state == ACCEPTED:
            self.accepted += 1
        elif outcome.state == FAILED:
            self.failed += 1
        elif outcome.state == REJECTED:
            self.rejected += 1


@dataclass(frozen=True)
class Rate:
    """How fast a target's deletes went: effective requests/s against the scope's limit."""

    effective: float | None
    limit: float
    throttled: int


@dataclass
class ApplyReport(Counts):
    not_sent: int = 0
    unknown: int = 0  # sent, no usable answer, not safe to send again: held
    held_back: int = 0  # identity deletes kept back: the user's attribute removals failed
    held: int = 0  # the plan's items held for a person (not sent: resending is unsafe)
    refused: int = 0  # not sent: the target's preflight facts refuse them (not admissible)
    problems: list[ItemProblem] = field(default_factory=ProblemList)
    stopped: dict[str, str] = field(default_factory=dict)
    by_target: dict[str, Counts] = field(default_factory=dict)
    rates: dict[str, Rate] = field(default_factory=dict)

    def record(self, target: str, outcome: Outcome) -> None:
        self.count(outcome)
        self.by_target.setdefault(target, Counts()).count(outcome)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.rejected or self.not_sent or self.unknown)

    @property
    def errors(self) -> list[str]:
        """What went wrong, as counts ("2 failed"); items left pending by a clean stop
        (--max-duration) are not errors; items not sent because a target stopped, or
        because the target's settings refuse them (its preflight's facts), are."""
        out = [
            f"{n} {what}"
            for n, what in (
                (self.failed, "failed"),
                (self.rejected, "rejected"),
                (self.unknown, "left unknown"),
                (self.refused, "not sent (refused by the target's settings)"),
            )
            if n
        ]
        out += [f"{name} stopped" for name in sorted(self.stopped)]
        return out

    def warnings(self) -> list[str]:
        """Targets whose items mostly came back already absent."""
        out = []
        for name, c in sorted(self.by_target.items()):
            settled = c.removed + c.already_absent + c.accepted
            if (
                settled >= ABSENT_WARNING_MIN_ITEMS
                and c.already_absent >= ABSENT_SHARE_WARNING * settled
            ):
                out.append(
                    f"{name}: {c.already_absent} of {settled} items were already absent. That "
                    "usually means wrong values (a typo, another format) or the wrong target: "
                    "check the manifests and the target's account"
                )
        return out

    def line(self) -> str:
        """The public summary line; wrappers parse it (README: Summary lines), so the
        `Items:` part has the same form whether or not anything went wrong."""
        items = (
            f"Items: {self.removed} removed, {self.accepted} accepted (asynchronous), "
            f"{self.already_absent} already absent, {self.failed} failed, "
            f"{self.rejected} rejected, {self.unknown} unknown, {self.held} held."
        )
        if self.errors:
            return f"Apply finished with errors: {', '.join(self.errors)}. {items}"
        return f"Apply complete! {items}"


Progress = Callable[[str, int, int, int], None]
"""(target name, items finished, items total, of those finished: failed or rejected)"""


class SentTimes:
    """When a target's delete requests left: the first, the last and how many (what
    their rate needs, without a list of every request's time)."""

    def __init__(self) -> None:
        self.first = 0.0
        self.last = 0.0
        self.n = 0

    def append(self, at: float) -> None:
        if not self.n:
            self.first = at
        self.last = at
        self.n += 1


def _rate(times: SentTimes) -> float | None:
    """Requests a second from the first to the last (None below two)."""
    if times.n < 2 or times.last <= times.first:
        return None
    return (times.n - 1) / (times.last - times.first)


class Engine:
    def __init__(
        self,
        writer: RunWriter,
        parallelism: int = 8,
        policy: RetryPolicy | None = None,
        progress: Progress | None = None,
        transport: Transport | None = None,
        fingerprint: Fingerprinter | None = None,
        should_stop: Callable[[], bool] | None = None,
        interrupted: Callable[[], bool] | None = None,
    ) -> None:
        self.writer = writer
        # keys the request digests in intents; without the ledger's, a key of this run
        self.fingerprint = fingerprint or Fingerprinter.keyed(secrets.token_bytes(32))
        self.parallelism = max(1, parallelism)
        self.policy = policy or RetryPolicy()
        self.progress = progress
        self.transport = transport
        # asked before each batch is taken (e.g. --max-duration): True stops every target
        # between requests, the rest left pending
        self.should_stop = should_stop or (lambda: False)
        # a person or the runner asked to stop (a signal): the rest is not even read
        self.interrupted = interrupted or (lambda: False)
        self.report = ApplyReport()
        self.pacers = Pacers()

    def pacer(self, target: Target, kind: str = DELETE) -> Pacer:
        return self.pacers(target, kind)

    async def run(self, works: Sequence[TargetWork]) -> ApplyReport:
        await asyncio.gather(*(self._run_target(w) for w in works if w.total))
        return self.report

    async def _run_target(self, work: TargetWork) -> None:
        run = TargetSession(
            work.target,
            work.secrets,
            self.pacers,
            self.policy,
            self.transport,
            self.parallelism,
            self.report.stopped,
        )
        sent_at = SentTimes()  # when delete requests left (first, last, how many)
        try:
            if not await self._preflight(run, work.total):
                return
            await self._send_all(run, work, sent_at)
        finally:
            await run.close()
            pacer = self.pacer(run.target, DELETE)
            self.report.rates[run.target.name] = Rate(_rate(sent_at), pacer.limit, pacer.throttled)

    async def _preflight(self, run: TargetSession, total: int) -> bool:
        """Send the target's preflight reads; False (and the target stopped, nothing
        sent) when they do not prove the target can be sent to."""
        result = await run.preflight()
        if result.ok:
            return True
        run.stop(run.preflight_problem(result))
        self.report.not_sent += total
        return False

    def _refuse(self, run: TargetSession, fp: str, item: Item, why: str) -> None:
        """An item the preflight's facts do not allow: it stays pending, reported."""
        self.report.not_sent += 1
        self.report.refused += 1
        self.report.problems.append(
            ItemProblem(run.target.name, fp, describe(item), "not sent", None, why)
        )

    async def _send_all(self, run: TargetSession, work: TargetWork, sent_at: SentTimes) -> None:
        """Phase 0 first (every item's admission checked on the way, in plan order), then
        each later phase in order, each read from the plan again; nothing is taken once
        the target stopped or the run was told to stop, and what was not taken by then
        stays pending (counted, not read)."""
        target, b = run.target, run.builder
        total = work.total
        state = _TargetState()
        finished = 0
        # subjects of phase-0 items that did not settle: their later-phase items wait
        unsettled: set[Hashable] = set()

        def progress() -> None:
            if self.progress:
                c = self.report.by_target.get(target.name, Counts())
                self.progress(target.name, finished, total - state.refused, c.failed + c.rejected)

        def blocked(batch: list[Pair]) -> bool:
            return b.subject(batch[0][1]) in unsettled

        def note_unsettled(batch: list[Pair], settled: Sequence[str] = ()) -> None:
            for fp, item in batch:
                if fp not in settled:
                    subject = b.subject(item)
                    if subject is not None:
                        unsettled.add(subject)

        async def worker(feed: _Feed, phase: int) -> None:
            nonlocal finished
            while not state.halted:
                taken = feed.take()
                if taken is None:
                    return
                batch, window = taken
                state.handled += len(batch)
                if run.check_breaker() or self.should_stop():
                    # stopped: this batch and everything not yet taken stay pending
                    self.report.not_sent += len(batch)
                    state.halted = True
                    return
                if phase > 0 and blocked(batch):
                    self.report.not_sent += len(batch)
                    self.report.held_back += len(batch)
                    continue
                settled = await self._send(
                    run, run.client(_kind_of(b, batch)), batch, sent_at, window
                )
                if phase == 0 and len(settled) < len(batch):
                    note_unsettled(batch, settled)
                finished += len(batch)
                progress()

        later: set[int] = set()
        phase = 0
        first = True
        while True:
            chunks = self._chunks(run, work.pairs, phase, later if first else None, state)
            feed = _Feed(chunks, lambda batches: self._window(run, batches))
            feed.fill(self.parallelism)
            if first:
                progress()  # the target's rate counts from here
            workers = min(self.parallelism, len(feed))
            await asyncio.gather(*(worker(feed, phase) for _ in range(workers)))
            if first and state.halted and not self.interrupted():
                # stopped early (breaker, --max-duration): the rest of the plan is still
                # checked for refusals, as it was before sending was streamed, so the
                # summary and the exit code do not depend on where the stop fell
                state.draining = True
                for _ in chunks:
                    pass
            feed.close()
            first = False
            if state.halted or not later:
                break
            phase = min(later)
            later.discard(phase)
        # not taken: pending (a stopped target's rest is counted, not read)
        self.report.not_sent += total - state.refused - state.handled

    def _chunks(
        self,
        run: TargetSession,
        pairs: Iterable[Pair],
        phase: int,
        later: set[int] | None,
        state: _TargetState,
    ) -> Iterator[list[list[Pair]]]:
        """The batches of `phase`'s admitted items, CHUNK_ITEMS items at a time. On the
        first pass (`later` given) every item's admission is checked and refusals are
        reported, in plan order, and the other phases found are added to `later`."""
        b, facts = run.builder, run.facts
        chunk: list[Pair] = []
        for fp, item in pairs:
            if b.phase(item) != phase:
                if later is not None:
                    later.add(b.phase(item))
                    why = b.admissible(item, facts)
                    if why is not None:
                        state.refused += 1
                        self._refuse(run, fp, item, why)
                continue
            why = b.admissible(item, facts)
            if why is not None:
                if later is not None:
                    state.refused += 1
                    self._refuse(run, fp, item, why)
                continue
            if state.draining:
                continue
            chunk.append((fp, item))
            if len(chunk) >= CHUNK_ITEMS:
                yield b.batches(chunk)
                chunk = []
        if chunk:
            yield b.batches(chunk)

    def _window(self, run: TargetSession, batches: list[list[Pair]]) -> IntentWindow[VendorRequest]:
        """The intent window of one chunk's batches (intents written ahead within it)."""
        target, b = run.target, run.builder
        _open_clients(run, batches)
        return IntentWindow(
            self.writer,
            target.name,
            [batches],
            lambda batch: b.build(target, [item for _, item in batch]),
            lambda request: request.digest(self.fingerprint),
        )

    async def _send(
        self,
        run: TargetSession,
        client: VendorClient,
        batch: list[Pair],
        sent_at: SentTimes,
        window: IntentWindow[VendorRequest],
    ) -> list[str]:
        """Send one batch and record its outcomes; returns the fingerprints that settled
        (done or accepted)."""
        target, b = run.target, run.builder
        items = [item for _, item in batch]
        fps = [fp for fp, _ in batch]
        # Take the rate-limit slot first, so a kill while waiting for it leaves no intent
        # without its request; the work below (the fsynced intents) happens inside it,
        # and should it hold the request past its turn, the client's departure gate
        # (Pacer.depart) keeps it from leaving crowded with the next ones.
        await client.pacer.acquire()
        request = window.claim(batch)  # its intent durable
        sent_at.append(time.monotonic())
        sent = await client.send(request, paced=True)
        note = None
        if sent.answer is not None and sent.error is None:
            follow = b.redirect(sent.answer, request)
            if follow is not None:
                canonical = sent.answer.header("canonical-profile-id")
                # the canonical id is another profile's: masked like any identifier
                note = "followed a redirect to the canonical profile" + (
                    f" {mask(canonical)}" if canonical else ""
                )
                # the followed request is another request: its own intents, durable first
                self.writer.intents(fps, target.name, follow.digest(self.fingerprint))
                request = follow
                sent = await client.send(follow)
        masker = Masker(v for item in items for v in raw_values(item))
        if sent.maybe_acted and not request.idempotent:
            # No result is recorded: the items stay `unknown`, and plan holds them for a
            # person, because sending again could remove something else.
            why = clean(f"{sent.error}: the vendor may have acted", masker, run.redact)
            self.report.unknown += len(batch)
            self.report.problems.extend(
                ItemProblem(target.name, fp, describe(item), UNKNOWN, None, why)
                for fp, item in batch
            )
            if sent.stop:
                run.stop(sent.stop)
            return []
        outcomes = await self._outcomes(run, sent, request, items)
        records = []
        settled: list[str] = []
        for (fp, item), outcome in zip(batch, outcomes, strict=True):
            message = clean(outcome.message, masker, run.redact)
            if outcome.stop is not None:
                run.stop(clean(outcome.stop, masker, run.redact) or "stopped")
            if outcome.state == UNKNOWN:
                # no result: the item stays `unknown` and plan holds it for a person
                self.report.unknown += 1
                self.report.problems.append(
                    ItemProblem(target.name, fp, describe(item), UNKNOWN, outcome.code, message)
                )
                continue
            fields = result_fields(
                fp,
                target.name,
                outcome.state,
                outcome.code,
                message,
                request_token(outcome.request_id, masker, run.redact),
                clean(outcome.note or note, masker, run.redact),
            )
            if outcome.evidence is not None:
                fields["evidence"] = outcome.evidence
            if outcome.vendor_code is not None:
                fields["vendor_code"] = clean(outcome.vendor_code, masker, run.redact)
            records.append(fields)
            self.report.record(target.name, outcome)
            if outcome.state in (DONE, ACCEPTED):
                settled.append(fp)
            if outcome.state in (FAILED, REJECTED):
                self.report.problems.append(
                    ItemProblem(
                        target.name, fp, describe(item), outcome.state, outcome.code, message
                    )
                )
        if records:
            self.writer.results(records)
        return settled

    async def _outcomes(
        self, run: TargetSession, sent: Sent, request: VendorRequest, items: list[Item]
    ) -> list[Outcome]:
        if sent.error is not None:
            code = sent.answer.status if sent.answer else None
            vendor = error_text(sent.answer.body) if sent.answer is not None else None
            message = sent.error + (f": {vendor}" if vendor else "")
            if sent.stop is not None:
                return [Outcome(FAILED, code, message, stop=sent.stop)] * len(items)
            return [Outcome(FAILED, code, message)] * len(items)
        assert sent.answer is not None
        outcomes = run.builder.interpret(sent.answer, request, items, run.facts)
        settled = []
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.check is None:
                settled.append(outcome)
                continue
            # the answer alone proves nothing: a documented read decides
            read = await run.client(READ).send(outcome.check)
            answer = read.answer if read.error is None else None
            settled.append(run.builder.settle(answer, item, outcome))
        return settled


def _kind_of(b: RequestBuilder, batch: list[Pair]) -> str:
    """The kind of request a batch makes (its rate scope and client)."""
    return b.kind([item for _, item in batch])


def _open_clients(run: TargetSession, batches: list[list[Pair]]) -> None:
    """Build the target's clients before any request of these batches is paced: building
    one blocks the event loop (an SSL context, tens of ms) and would hold back requests
    already let go, which then leave together with the next ones."""
    for kind in {_kind_of(run.builder, batch) for batch in batches}:
        run.client(kind)


@dataclass
class _TargetState:
    refused: int = 0  # items the preflight's facts refused (reported, pending)
    handled: int = 0  # items of batches taken by the workers
    halted: bool = False  # stopped: nothing more is taken
    draining: bool = False  # stopped: the rest is read for refusals only


class _Feed:
    """What the workers of one phase take, in order: each batch with the intent window
    of its chunk, the next chunk read when the queue runs dry."""

    def __init__(
        self,
        chunks: Iterator[list[list[Pair]]],
        window: Callable[[list[list[Pair]]], IntentWindow[VendorRequest]],
    ) -> None:
        self._chunks = chunks
        self._window = window
        self._queue: deque[tuple[list[Pair], IntentWindow[VendorRequest]]] = deque()

    def fill(self, at_least: int) -> None:
        while len(self._queue) < at_least:
            batches = next(self._chunks, None)
            if batches is None:
                return
            window = self._window(batches)
            self._queue.extend((batch, window) for batch in batches)

    def take(self) -> tuple[list[Pair], IntentWindow[VendorRequest]] | None:
        if not self._queue:
            self.fill(1)
        return self._queue.popleft() if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._queue.clear()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

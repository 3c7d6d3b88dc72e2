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
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Hashable, Sequence
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


@dataclass
class TargetWork:
    target: Target
    pairs: list[Pair]
    secrets: dict[str, str]


@dataclass(frozen=True)
class ItemProblem:
    target: str
    fingerprint: str
    description: str
    state: str
    code: int | None
    message: str | None


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
    problems: list[ItemProblem] = field(default_factory=list)
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


def _rate(times: list[float]) -> float | None:
    """Requests a second from the first to the last (None below two)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


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
        self.report = ApplyReport()
        self.pacers = Pacers()
        self._settled: set[str] = set()  # fingerprints done or accepted in this run
        self._windows: dict[str, IntentWindow[VendorRequest]] = {}  # intents, by target

    def pacer(self, target: Target, kind: str = DELETE) -> Pacer:
        return self.pacers(target, kind)

    async def run(self, works: Sequence[TargetWork]) -> ApplyReport:
        await asyncio.gather(*(self._run_target(w) for w in works if w.pairs))
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
        sent_at: list[float] = []  # when each delete request left (first, last)
        try:
            if not await self._preflight(run, len(work.pairs)):
                return
            pairs = self._admitted(run, work.pairs)
            await self._send_all(run, pairs, sent_at)
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

    def _admitted(self, run: TargetSession, pairs: list[Pair]) -> list[Pair]:
        """The pairs the preflight's facts allow; the others stay pending, reported."""
        kept = []
        for fp, item in pairs:
            why = run.builder.admissible(item, run.facts)
            if why is None:
                kept.append((fp, item))
                continue
            self.report.not_sent += 1
            self.report.refused += 1
            self.report.problems.append(
                ItemProblem(run.target.name, fp, describe(item), "not sent", None, why)
            )
        return kept

    async def _send_all(self, run: TargetSession, pairs: list[Pair], sent_at: list[float]) -> None:
        target, b = run.target, run.builder
        batches = b.batches(pairs)
        _open_clients(run, batches)
        total = len(pairs)
        finished = 0
        if self.progress:
            self.progress(target.name, 0, total, 0)  # the target's rate counts from here
        earlier = _first_phase_subjects(b, pairs)

        def blocked(batch: list[Pair]) -> bool:
            subject = b.subject(batch[0][1])
            return any(fp not in self._settled for fp in earlier.get(subject, []))

        async def worker(queue: asyncio.Queue[list[Pair]]) -> None:
            nonlocal finished
            while not queue.empty():
                batch = queue.get_nowait()
                if run.check_breaker() or self.should_stop():
                    self.report.not_sent += len(batch)
                    continue
                if b.phase(batch[0][1]) > 0 and blocked(batch):
                    self.report.not_sent += len(batch)
                    self.report.held_back += len(batch)
                    continue
                await self._send(run, run.client(_kind_of(b, batch)), batch, sent_at)
                finished += len(batch)
                if self.progress:
                    c = self.report.by_target.get(target.name, Counts())
                    self.progress(target.name, finished, total, c.failed + c.rejected)

        phases = _phases(b, batches)
        # intents written ahead, a record for the next requests (ledger/intents.py)
        self._windows[target.name] = IntentWindow(
            self.writer,
            target.name,
            phases,
            lambda batch: b.build(target, [item for _, item in batch]),
            lambda request: request.digest(self.fingerprint),
        )
        for phase_batches in phases:
            queue: asyncio.Queue[list[Pair]] = asyncio.Queue()
            for batch in phase_batches:
                queue.put_nowait(batch)
            workers = min(self.parallelism, queue.qsize())
            await asyncio.gather(*(worker(queue) for _ in range(workers)))

    async def _send(
        self, run: TargetSession, client: VendorClient, batch: list[Pair], sent_at: list[float]
    ) -> None:
        target, b = run.target, run.builder
        items = [item for _, item in batch]
        fps = [fp for fp, _ in batch]
        # Take the rate-limit slot first, so the work below (building, the fsynced
        # intents) happens inside it and the request leaves when its slot says.
        await client.pacer.acquire()
        request = self._windows[target.name].claim(batch)  # its intent durable
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
            return
        outcomes = await self._outcomes(run, sent, request, items)
        records = []
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
                self._settled.add(fp)
            if outcome.state in (FAILED, REJECTED):
                self.report.problems.append(
                    ItemProblem(
                        target.name, fp, describe(item), outcome.state, outcome.code, message
                    )
                )
        if records:
            self.writer.results(records)

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
    """Build the target's clients before any request is paced: building one blocks the
    event loop (an SSL context, tens of ms) and would hold back requests already let go,
    which then leave together with the next ones."""
    for kind in {_kind_of(run.builder, batch) for batch in batches}:
        run.client(kind)


def _first_phase_subjects(b: RequestBuilder, pairs: list[Pair]) -> dict[Hashable, list[str]]:
    """The fingerprints of the phase-0 items about each subject. Phases, as the vendor
    orders its items: every phase-0 request goes first, and an item of a later phase is
    kept back when an earlier item about the same subject did not settle (Insider: an
    identifier that locates a user whose attribute removals failed would leave those
    attributes unreachable once deleted)."""
    earlier: dict[Hashable, list[str]] = {}
    for fp, item in pairs:
        subject = b.subject(item)
        if subject is not None and b.phase(item) == 0:
            earlier.setdefault(subject, []).append(fp)
    return earlier


def _phases(b: RequestBuilder, batches: list[list[Pair]]) -> list[list[list[Pair]]]:
    """The batches phase by phase, in phase order."""
    return [
        [batch for batch in batches if b.phase(batch[0][1]) == phase]
        for phase in sorted({b.phase(batch[0][1]) for batch in batches})
    ]

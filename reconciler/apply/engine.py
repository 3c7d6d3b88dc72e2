"""Sending one plan's items: batches, concurrency per target, ledger records per item.

For every request: an `intent` per item (fsynced) before it is sent, a `result` per item
(fsynced) after the final answer. A kill at any instant leaves intents without results,
which the next plan shows as `unknown` and re-sends: every deletion here is idempotent.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import httpx

from reconciler.adapters import REQUESTS
from reconciler.adapters.requests import Pair, RequestBuilder, VendorRequest
from reconciler.apply.client import RetryPolicy, Sent, VendorClient
from reconciler.apply.intents import IntentWindow
from reconciler.apply.limits import scope_and_rate
from reconciler.apply.outcome import (
    ACCEPTED,
    DONE,
    FAILED,
    REJECTED,
    UNKNOWN,
    Outcome,
    error_text,
)
from reconciler.apply.pacing import Pacer
from reconciler.config import Target
from reconciler.desired import Fingerprinter, Item, canonical_json
from reconciler.ledger.store import RunWriter, result_fields
from reconciler.masking import Masker, mask, raw_values
from reconciler.render.describe import describe


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
class ApplyReport:
    removed: int = 0
    accepted: int = 0
    already_absent: int = 0
    failed: int = 0
    rejected: int = 0
    not_sent: int = 0
    unknown: int = 0  # sent, no usable answer, not safe to send again: held
    held_back: int = 0  # identity deletes kept back: the user's attribute removals failed
    problems: list[ItemProblem] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)

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

    @property
    def ok(self) -> bool:
        return not (self.failed or self.rejected or self.not_sent or self.unknown)

    def line(self) -> str:
        return (
            f"Apply complete! Items: {self.removed} removed, {self.accepted} accepted "
            f"(asynchronous), {self.already_absent} already absent, {self.failed} failed, "
            f"{self.rejected} rejected."
        )


MAX_MESSAGE = 500

Progress = Callable[[str, int, int], None]
"""(target name, items finished, items total)"""


def _user(item: Item) -> str:
    """Who an Insider item locates, case-folded: Insider normalises emails, and keeping
    back one identity delete too many is the safe way to be wrong."""
    return canonical_json(item.locator).casefold()


class Redactor:
    """Removes secret values from any text before it is stored or shown."""

    # Shorter "secrets" are not secrets anyone uses, and replacing them would shred
    # every message they occur in.
    MIN_LENGTH = 4

    def __init__(self, secrets: Sequence[str]) -> None:
        found = {s for s in secrets if len(s) >= self.MIN_LENGTH}
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


class Engine:
    def __init__(
        self,
        writer: RunWriter,
        parallelism: int = 8,
        policy: RetryPolicy | None = None,
        progress: Progress | None = None,
        transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
        fingerprint: Fingerprinter | None = None,
    ) -> None:
        self.writer = writer
        # keys the request digests in intents; without the ledger's, a key of this run
        self.fingerprint = fingerprint or Fingerprinter.keyed(secrets.token_bytes(32))
        self.parallelism = max(1, parallelism)
        self.policy = policy or RetryPolicy()
        self.progress = progress
        self.transport = transport
        self.report = ApplyReport()
        self._pacers: dict[Hashable, Pacer] = {}
        self._settled: set[str] = set()  # fingerprints done or accepted in this run
        self._windows: dict[str, IntentWindow[VendorRequest]] = {}  # intents, by target

    def _pacer(self, target: Target, identity: bool = False) -> Pacer:
        scope, rate = scope_and_rate(target, identity)
        pacer = self._pacers.get(scope)
        if pacer is None:
            pacer = self._pacers[scope] = Pacer(rate)
        return pacer

    async def run(self, works: Sequence[TargetWork]) -> ApplyReport:
        await asyncio.gather(*(self._run_target(w) for w in works if w.pairs))
        return self.report

    async def _run_target(self, work: TargetWork) -> None:
        target = work.target
        builder = REQUESTS[target.vendor]
        headers = builder.auth_headers(target, work.secrets)
        # the Authorization header's own form too: Basic base64 is the secret, encoded
        encoded = [v.split()[-1] for k, v in headers.items() if k.lower() == "authorization"]
        redact = Redactor([*work.secrets.values(), *encoded])
        clients: dict[bool, VendorClient] = {}

        def client_for(identity: bool) -> VendorClient:
            if identity not in clients:
                clients[identity] = VendorClient(
                    target.base_url,
                    headers,
                    self._pacer(target, identity),
                    self.policy,
                    transport=self.transport() if self.transport else None,
                    max_connections=self.parallelism,
                )
            return clients[identity]

        def is_identity(batch: list[Pair]) -> bool:
            return target.vendor == "insider" and batch[0][1].kind == "identifier"

        batches = builder.batches(work.pairs)
        # Build the clients before any request is paced: building one blocks the event
        # loop (an SSL context, tens of ms) and would hold back requests already let go,
        # which then leave together with the next ones.
        for identity in {is_identity(b) for b in batches}:
            client_for(identity)
        total = len(work.pairs)
        finished = 0
        # Insider: an identifier may be what locates a user whose attributes are removed
        # in the same run. Deleting it first would leave those attributes unreachable, so
        # identity deletes go last, and only where that user's attribute removals settled.
        attributes_of: dict[str, list[str]] = {}
        for fp, item in work.pairs:
            if item.vendor == "insider" and item.kind != "identifier":
                attributes_of.setdefault(_user(item), []).append(fp)

        def blocked(batch: list[Pair]) -> bool:
            fps = attributes_of.get(_user(batch[0][1]), [])
            return any(fp not in self._settled for fp in fps)

        async def worker(queue: asyncio.Queue[list[Pair]]) -> None:
            nonlocal finished
            while not queue.empty():
                batch = queue.get_nowait()
                if target.name in self.report.stopped:
                    self.report.not_sent += len(batch)
                    continue
                if is_identity(batch) and blocked(batch):
                    self.report.not_sent += len(batch)
                    self.report.held_back += len(batch)
                    continue
                await self._send(target, builder, client_for(is_identity(batch)), batch, redact)
                finished += len(batch)
                if self.progress:
                    self.progress(target.name, finished, total)

        check = builder.preflight(target)
        if check is not None:
            answer = (await client_for(False).send(check)).answer
            problem = builder.preflight_problem(answer)
            if problem is not None:
                self.report.stopped[target.name] = self._clean(problem, Masker(), redact) or ""
                self.report.not_sent += total
                for client in clients.values():
                    await client.aclose()
                return
        phases = [
            [b for b in batches if not is_identity(b)],
            [b for b in batches if is_identity(b)],
        ]
        self._windows[target.name] = IntentWindow(
            self.writer,
            target.name,
            phases,
            lambda batch: builder.build(target, [item for _, item in batch]),
            lambda request: request.digest(self.fingerprint),
        )
        try:
            for phase in phases:
                queue: asyncio.Queue[list[Pair]] = asyncio.Queue()
                for batch in phase:
                    queue.put_nowait(batch)
                workers = min(self.parallelism, len(phase))
                await asyncio.gather(*(worker(queue) for _ in range(workers)))
        finally:
            for client in clients.values():
                await client.aclose()

    async def _send(
        self,
        target: Target,
        b: RequestBuilder,
        client: VendorClient,
        batch: list[Pair],
        redact: Redactor,
    ) -> None:
        items = [item for _, item in batch]
        # Take the rate-limit slot first, so the work below (building, the fsynced
        # intents) happens inside it and the request leaves when its slot says.
        await client.pacer.acquire()
        request = self._windows[target.name].claim(batch)  # its intent durable
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
                self.writer.intents(
                    [fp for fp, _ in batch], target.name, follow.digest(self.fingerprint)
                )
                sent = await client.send(follow)
        masker = Masker(v for item in items for v in raw_values(item))
        if sent.maybe_acted and not request.idempotent:
            # No result is recorded: the items stay `unknown`, and plan holds them for a
            # person, because sending again could remove something else.
            why = self._clean(f"{sent.error}: the vendor may have acted", masker, redact)
            self.report.unknown += len(batch)
            self.report.problems.extend(
                ItemProblem(target.name, fp, describe(item), "unknown", None, why)
                for fp, item in batch
            )
            return
        outcomes = self._outcomes(b, sent, items)
        records = []
        for (fp, item), outcome in zip(batch, outcomes, strict=True):
            message = self._clean(outcome.message, masker, redact)
            item_note = self._clean(outcome.note or note, masker, redact)
            if outcome.state == UNKNOWN:
                # no result: the item stays `unknown` and plan holds it for a person
                self.report.unknown += 1
                self.report.problems.append(
                    ItemProblem(target.name, fp, describe(item), UNKNOWN, outcome.code, message)
                )
                continue
            records.append(
                result_fields(
                    fp,
                    target.name,
                    outcome.state,
                    outcome.code,
                    message,
                    outcome.request_id,
                    item_note,
                )
            )
            self.report.count(outcome)
            if outcome.state in (DONE, ACCEPTED):
                self._settled.add(fp)
            if outcome.state in (FAILED, REJECTED):
                self.report.problems.append(
                    ItemProblem(
                        target.name, fp, describe(item), outcome.state, outcome.code, message
                    )
                )
            if outcome.stop_target and target.name not in self.report.stopped:
                self.report.stopped[target.name] = message or "credentials refused"
        if records:
            self.writer.results(records)

    @staticmethod
    def _clean(text: str | None, masker: Masker, redact: Redactor) -> str | None:
        """A vendor's words as we may store and show them: values masked, secrets
        removed, then cut to a readable length (cutting first would hide values)."""
        if not text:
            return None
        cleaned = redact(masker.text(text)) or ""
        return cleaned if len(cleaned) <= MAX_MESSAGE else cleaned[:MAX_MESSAGE] + "..."

    @staticmethod
    def _outcomes(b: RequestBuilder, sent: Sent, items: list[Item]) -> list[Outcome]:
        if sent.error is not None:
            code = sent.answer.status if sent.answer else None
            vendor = error_text(sent.answer.body) if sent.answer is not None else None
            message = sent.error + (f": {vendor}" if vendor else "")
            return [Outcome(FAILED, code, message)] * len(items)
        assert sent.answer is not None
        return b.interpret(sent.answer, items)

"""Driving a vendor through the real apply engine and VendorClient over an
httpx.MockTransport: the kit's way of seeing what goes over the wire and what would be
recorded, without a network or a ledger on disk."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from reconciler.apply.client import RetryPolicy
from reconciler.apply.engine import ApplyReport, Engine, TargetWork
from reconciler.apply.pacing import Pacer
from reconciler.apply.session import Pacers
from reconciler.desired import Fingerprinter, Item
from reconciler.evidence import Answer
from reconciler.ledger.store import RunWriter, create_ledger
from reconciler.refresh.engine import RefreshEngine, RefreshReport, RefreshWork
from reconciler.target import Target
from reconciler.testing.answers import response
from reconciler.vendors import registry
from reconciler.vendors.api import ABSENT_SEEN, PRESENT, UNVERIFIED, Vendor, VendorRequest

# Retries without real waiting: the kit counts attempts, it does not time them.
FAST = RetryPolicy(max_attempts=4, max_seconds=10.0, base=0.0001, cap=0.001, timeout=2.0)
# The fixed key of the golden fingerprints and of every run the kit makes.
GOLDEN_KEY = b"reconciler-conformance-golden-v1"
FINGERPRINT = Fingerprinter.keyed(GOLDEN_KEY)


@contextmanager
def registered(vendor: Vendor) -> Iterator[None]:
    """`vendor` is the installed vendor of its name while this lasts (the engine, the
    plan wording and the rate scopes find vendors by name)."""
    found = registry.installed().vendors
    saved = found.get(vendor.name)
    found[vendor.name] = vendor
    try:
        yield
    finally:
        if saved is None:
            found.pop(vendor.name, None)
        else:
            found[vendor.name] = saved


@contextmanager
def temporary_ledger(operation: str) -> Iterator[tuple[RunWriter, list[dict[str, Any]]]]:
    """A real ledger in a temporary folder and one run's writer on it; once the block
    ends, the list holds every record written (the run closed), read back from disk."""
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-kit-") as folder:
        ledger = Path(folder) / "ledger"
        create_ledger(ledger, FINGERPRINT)
        writer = RunWriter(ledger, "conformance", {"operation": operation}, key=GOLDEN_KEY)
        try:
            yield writer, records
        finally:
            writer.close()
            for path in sorted(ledger.rglob("*")):
                if path.is_file():
                    lines = path.read_text("utf-8").splitlines()
                    records += [json.loads(line) for line in lines if line.strip()]


class Unpaced(Pacers):
    """The engines' pacers, without waiting for rate limits (the kit is not about pacing)."""

    def __call__(self, target: Target, kind: str) -> Pacer:
        scope: Hashable = (target.name, kind)
        found = self._pacers.get(scope)
        if found is None:
            found = self._pacers[scope] = Pacer(1e9)
        return found


def matches(request: httpx.Request, expected: VendorRequest) -> bool:
    """Whether `request` on the wire is `expected` (method, path, query, JSON body)."""
    if request.method != expected.method:
        return False
    if not unquote(request.url.path).endswith(unquote(expected.path)):
        return False
    if dict(request.url.params) != dict(expected.query):
        return False
    if expected.body is None:
        return not request.content
    try:
        return bool(json.loads(request.content) == expected.body)
    except ValueError:
        return False


Reply = httpx.Response | Exception
Responder = Callable[[httpx.Request, int], Reply]
"""Answers the n-th request (0, 1, ...) that is not one of the target's preflight reads."""


def always(reply: Callable[[], Reply]) -> Responder:
    """A responder that answers every request with a fresh `reply()`."""
    return lambda request, n: reply()


@dataclass
class Run:
    report: ApplyReport
    sent: list[httpx.Request]  # every request that was not a preflight read, in order
    records: list[dict[str, Any]]  # everything the ledger holds after the run

    def texts(self) -> list[str]:
        """Every string the run would record or print: ledger records, the report's
        problems and the reasons targets stopped."""
        out: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, Mapping):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list | tuple):
                for v in value:
                    walk(v)

        walk(self.records)
        for problem in self.report.problems:
            walk([problem.description, problem.message or "", problem.state])
        walk(list(self.report.stopped.values()))
        return out


def run_engine(
    vendor: Vendor,
    target: Target,
    secrets: Mapping[str, str],
    items: Sequence[Item],
    preflight: Sequence[Answer],
    respond: Responder,
    parallelism: int = 1,
) -> Run:
    """Send `items` to `target` through the real engine: the target's preflight reads
    get `preflight` (in order), every other request `respond`'s reply."""
    sent: list[httpx.Request] = []
    pairs = [(FINGERPRINT(item), item) for item in items]
    with temporary_ledger("apply") as (writer, records), registered(vendor):
        engine = Engine(
            writer,
            parallelism,
            FAST,
            transport=lambda: httpx.MockTransport(
                _handler(vendor, target, preflight, respond, sent)
            ),
            fingerprint=FINGERPRINT,
        )
        engine.pacers = Unpaced()
        report = asyncio.run(engine.run([TargetWork(target, pairs, dict(secrets))]))
    return Run(report, sent, records)


def _handler(
    vendor: Vendor,
    target: Target,
    preflight: Sequence[Answer],
    respond: Responder,
    sent: list[httpx.Request],
) -> Callable[[httpx.Request], httpx.Response]:
    """The transport's answers: `preflight` to the target's preflight reads (in order),
    `respond` to every other request (which `sent` records)."""
    reads = vendor.requests.preflight(target)

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        for read, answer in zip(reads, preflight, strict=False):
            if matches(request, read):
                return response(answer)
        sent.append(request)
        reply = respond(request, len(sent) - 1)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler


@dataclass
class Refreshed:
    report: RefreshReport
    sent: list[httpx.Request]
    records: list[dict[str, Any]]

    def seen(self, target: str) -> dict[str, int]:
        """How many items the run recorded present, absent and unverified."""
        c = self.report.counts(target)
        return {
            PRESENT: c.drifted,
            ABSENT_SEEN: c.confirmed + c.still_absent,
            UNVERIFIED: c.unverified + c.queued,
        }


def run_refresh(
    vendor: Vendor,
    target: Target,
    secrets: Mapping[str, str],
    items: Sequence[Item],
    preflight: Sequence[Answer],
    respond: Responder,
    state: str = "accepted",
) -> Refreshed:
    """Read `items` (each recorded `state`) back through the real refresh engine."""
    sent: list[httpx.Request] = []
    pairs = [(FINGERPRINT(item), item) for item in items]
    work = RefreshWork(target, pairs, {fp: state for fp, _ in pairs}, dict(secrets))
    with temporary_ledger("refresh") as (writer, records), registered(vendor):
        engine = RefreshEngine(
            writer,
            1,
            FAST,
            transport=lambda: httpx.MockTransport(
                _handler(vendor, target, preflight, respond, sent)
            ),
        )
        engine.pacers = Unpaced()
        report = asyncio.run(engine.run([work]))
    return Refreshed(report, sent, records)

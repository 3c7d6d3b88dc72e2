"""The engine reads a target's items a chunk at a time (CHUNK_ITEMS), so a plan of
millions is never held whole: what it sends and records is what one list would give,
it has read at most a chunk (and the requests in flight) past what it sent, a stopped
target's rest is counted and not read, and Insider's phases hold across chunks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.apply import engine as engine_module
from reconciler.apply.engine import Engine, TargetWork
from reconciler.desired import Item
from reconciler.ledger.store import RunWriter, create_ledger
from reconciler.vendors.api import Pair
from tests.apply.test_engine import FP, SECRETS, TARGETS, records
from tests.apply.wire import (
    FAST,
    insider_attribute,
    insider_identifier,
    preflight_answer,
    seg_item,
    twilio_item,
)

CHUNK = 7


class Source:
    """Pairs read again on each pass, counting how far the current pass has read."""

    def __init__(self, items: list[Item]) -> None:
        self.pairs = [(FP(item), item) for item in items]
        self.read = 0
        self.passes = 0

    def __iter__(self) -> Iterator[Pair]:
        self.passes += 1
        self.read = 0
        for pair in self.pairs:
            self.read += 1
            yield pair


def run(
    ledger_dir: Path,
    target: str,
    source: Source,
    handler,
    parallelism: int = 3,
    should_stop=None,
    interrupted=None,
):
    create_ledger(ledger_dir, FP)
    writer = RunWriter(ledger_dir, "run1", {"operation": "apply"})

    def respond(request: httpx.Request) -> httpx.Response:
        request.read()
        return preflight_answer(request) or handler(request)

    engine = Engine(
        writer,
        parallelism,
        FAST,
        transport=lambda: httpx.MockTransport(respond),
        should_stop=should_stop,
        interrupted=interrupted,
    )
    work = TargetWork(TARGETS[target], source, SECRETS[target], len(source.pairs))
    try:
        report = asyncio.run(engine.run([work]))
    finally:
        writer.close()
    return report


def results(ledger_dir: Path) -> dict[str, str]:
    return {r["fp"]: r["status"] for r in records(ledger_dir) if r["type"] == "result"}


def segment_items(n: int) -> list[Item]:
    return [seg_item(f"u_{i}", "email", f"a{i}@x.example") for i in range(n)]


def test_chunks_send_and_record_what_one_list_does(tmp_path, monkeypatch):
    items = segment_items(40)
    whole = run(tmp_path / "whole", "seg", Source(items), lambda r: httpx.Response(200, json={}))
    monkeypatch.setattr(engine_module, "CHUNK_ITEMS", CHUNK)
    ahead: list[int] = []
    source = Source(items)

    def handler(request: httpx.Request) -> httpx.Response:
        ahead.append(source.read)
        return httpx.Response(200, json={})

    chunked = run(tmp_path / "chunked", "seg", source, handler)
    assert results(tmp_path / "chunked") == results(tmp_path / "whole")
    assert len(results(tmp_path / "chunked")) == 40
    assert (chunked.removed, chunked.not_sent) == (whole.removed, whole.not_sent) == (40, 0)
    # never more than a chunk read ahead of the requests (plus those in flight)
    assert all(read <= sent + 2 * CHUNK for sent, read in enumerate(ahead, 1))
    assert max(ahead) == 40 and source.passes == 1  # one vendor phase: one pass
    # every request's intent was durable before it: each result has its intent before it
    seen: set[str] = set()
    for r in records(tmp_path / "chunked"):
        if r["type"] == "intent":
            seen.add(r["fp"])
        elif r["type"] == "result":
            assert r["fp"] in seen


def test_an_interrupt_leaves_the_rest_pending_without_reading_it(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "CHUNK_ITEMS", CHUNK)
    source = Source(segment_items(200))
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={})

    def stop() -> bool:
        return len(sent) >= 10

    report = run(tmp_path / "l", "seg", source, handler, should_stop=stop, interrupted=stop)
    assert 10 <= len(sent) <= 13  # the requests already in flight finish
    assert report.removed == len(sent) and report.not_sent == 200 - len(sent)
    assert source.read < 200 - CHUNK  # the rest was counted, not read
    assert len(results(tmp_path / "l")) == len(sent)


@pytest.mark.parametrize("chunk", [1, 2, CHUNK, 10_000])
def test_insider_phases_hold_across_chunks(tmp_path, monkeypatch, chunk):
    """Identifiers go after every attribute removal, and one whose user's attribute
    removal failed is kept back, wherever the chunks fall."""
    monkeypatch.setattr(engine_module, "CHUNK_ITEMS", chunk)
    users = [f"user{i}@example.com" for i in range(6)]
    items: list[Item] = []
    for i, email in enumerate(users):
        items.append(insider_identifier("email", email))
        items.append(insider_attribute({"email": email}, "surname" if i != 3 else "bad"))
    order: list[str] = []
    failed: set[str] = set()  # users in a failed attribute request (batched by user)

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        order.append(path)
        if path.endswith("/attribute/delete") and b'"bad"' in request.content:
            failed.update(u for u in users if u.encode() in request.content)
            return httpx.Response(400, json={"success": False, "message": "bad"})
        return httpx.Response(200, json={})

    source = Source(items)
    report = run(tmp_path / "l", "ins", source, handler)
    identity = [i for i, p in enumerate(order) if p.endswith("/identity")]
    attributes = [i for i, p in enumerate(order) if p.endswith("/attribute/delete")]
    assert attributes and (not identity or max(attributes) < min(identity))
    assert "user3@example.com" in failed
    assert len(identity) == 6 - len(failed)  # the failed users' identifiers kept back
    assert report.held_back == len(failed) == report.rejected
    assert report.accepted == 12 - 2 * len(failed)
    assert report.not_sent == len(failed) and source.passes == 2  # one pass a phase


def test_a_run_where_everything_fails_keeps_the_first_problems_and_counts_all(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(engine_module.ProblemList, "KEEP", 5)
    items = [insider_attribute({"email": f"u{i}@example.com"}, "surname") for i in range(40)]
    report = run(
        tmp_path / "l",
        "ins",
        Source(items),
        lambda r: httpx.Response(400, json={"success": False, "message": "bad"}),
    )
    assert report.rejected == 40, report
    assert len(report.problems) == 40 and len(report.problems[:20]) == 5
    assert len(list(iter(report.problems))) == 5  # held: the first five only
    assert all(p.target == "ins" for p in report.problems[:5])


def test_refusals_past_an_early_stop_are_still_counted(tmp_path, monkeypatch):
    """A --max-duration (or breaker) stop after the first chunks: the rest of the plan is
    still read for refusals, so the summary and the exit code are what the whole list
    gave before sending was streamed (a refused item is an error the user must fix)."""
    profile = "mem_profile_0" + "a" * 24
    # idType "Email" is not configured (the store has email, phone, externalId)
    items = [twilio_item(f"{profile[:-2]}{i:02d}", "email") for i in range(30)]
    items += [twilio_item(f"{profile[:-2]}{i:02d}", "Email") for i in range(30, 34)]
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(202, json={"message": "Identifier removal accepted."})

    whole = run(tmp_path / "whole", "mem", Source(items), handler, should_stop=lambda: False)
    assert (whole.refused, whole.not_sent) == (4, 4)
    monkeypatch.setattr(engine_module, "CHUNK_ITEMS", CHUNK)
    sent.clear()
    source = Source(items)
    report = run(tmp_path / "l", "mem", source, handler, should_stop=lambda: len(sent) >= 5)
    assert 5 <= len(sent) < 30
    assert report.refused == 4  # all four, though they sit after the stop
    assert report.not_sent == len(items) - len(sent)
    assert sum(p.state == "not sent" for p in report.problems) == 4
    assert len(results(tmp_path / "l")) == len(sent)  # nothing more was sent

"""The refresh engine over a mock transport: observations recorded, read faults never
change a state, follow-up reads (pages) followed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from reconciler.apply.client import RetryPolicy
from reconciler.desired import Fingerprinter
from reconciler.ledger.store import RunWriter, create_ledger, read_ledger
from reconciler.refresh.engine import RefreshEngine, RefreshWork
from tests.apply.test_engine import records
from tests.apply.wire import SEGMENT, preflight_answer, seg_item

FP = Fingerprinter.salted(b"refresh-test-salt")
FAST = RetryPolicy(max_attempts=3, max_seconds=5.0, base=0.001, cap=0.01, timeout=2.0)
ITEMS = [seg_item("u_1", "email", "a@x.example"), seg_item("u_1", "phone", "+15555550100")]


def run(tmp_path: Path, handler, states: dict[str, str] | None = None):
    ledger_dir = tmp_path / "ledger"
    create_ledger(ledger_dir, FP)
    pairs = [(FP(i), i) for i in ITEMS]
    prior = RunWriter(ledger_dir, "apply1", {"operation": "apply"})
    for fp, _ in pairs:
        prior.intent(fp, "seg", "d" * 64)
        prior.result(fp, "seg", (states or {}).get(fp, "done"), 200, None)
    prior.close()
    writer = RunWriter(ledger_dir, "refresh1", {"operation": "refresh"})

    def respond(request: httpx.Request) -> httpx.Response:
        request.read()
        return preflight_answer(request) or handler(request)

    work = RefreshWork(SEGMENT, pairs, {fp: "done" for fp, _ in pairs}, {"token_env": "t0ken-0123"})
    engine = RefreshEngine(writer, 2, FAST, transport=lambda: httpx.MockTransport(respond))
    try:
        report = asyncio.run(engine.run([work]))
    finally:
        writer.close()
    return report, ledger_dir


def test_failed_reads_record_unverified_and_change_no_state(tmp_path):
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "later"}})

    report, ledger_dir = run(tmp_path, failing)
    assert report.total().unverified == 2 and report.total().drifted == 0
    refreshes = [r for r in records(ledger_dir) if r["type"] == "refresh"]
    assert {r["observed"] for r in refreshes} == {"unverified"}
    assert {s.state for s in read_ledger(ledger_dir).items.values()} == {"done"}


def test_a_dropped_connection_and_a_page_are_unverified_too(tmp_path):
    def dropping(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    report, _ = run(tmp_path, dropping)
    assert report.total().unverified == 2

    def nginx(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>404</html>", headers={"content-type": "text/html"})

    report, ledger_dir = run(tmp_path / "b", nginx)
    assert report.total().unverified == 2
    assert {s.state for s in read_ledger(ledger_dir).items.values()} == {"done"}


def test_pages_are_followed_and_what_is_found_back_is_drifted(tmp_path):
    pages = []

    def paged(request: httpx.Request) -> httpx.Response:
        pages.append(dict(request.url.params))
        if "next" not in request.url.params:
            body = {"data": [], "cursor": {"has_more": True, "next": "map_100"}}
        else:
            body = {
                "data": [{"type": "phone", "id": "+15555550100"}],
                "cursor": {"has_more": False, "next": ""},
            }
        return httpx.Response(200, json=body)

    report, ledger_dir = run(tmp_path, paged)
    assert len(pages) == 2 and pages[1]["next"] == "map_100"
    assert (report.total().still_absent, report.total().drifted) == (1, 1)
    folded = {s.state for s in read_ledger(ledger_dir).items.values()}
    assert folded == {"done", "drifted"}

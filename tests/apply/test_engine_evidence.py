"""The engine applies the evidence rules: a failed preflight sends nothing, answers
about the whole target stop it (items failed, never rejected), reads settle answers that
prove nothing alone, the circuit breaker ends a run against an unreachable vendor."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

import tests.apply.test_engine as engine_kit
from reconciler.apply.client import RetryPolicy
from reconciler.apply.pacing import Pacer
from reconciler.ledger.store import read_ledger
from tests.apply.test_engine import records, run_engine
from tests.apply.wire import (
    braze_item,
    insider_identifier,
    preflight_answer,
    seg_item,
    twilio_item,
)

PROFILE = "mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa"
NGINX = "<html><head><title>404 Not Found</title></head><body>nginx</body></html>"


def results(ledger_dir: Path) -> list[dict]:
    return [r for r in records(ledger_dir) if r["type"] == "result"]


def test_a_wrong_base_url_page_records_nothing_done_and_stops_the_target(tmp_path):
    items = [seg_item(f"u_{i}", "email", f"a{i}@x.example") for i in range(20)]
    sent = []

    def handler(request, _):
        sent.append(request.url.path)
        return httpx.Response(404, text=NGINX, headers={"content-type": "text/html"})

    ledger_dir = tmp_path / "l"
    report = run_engine(ledger_dir, items, handler, parallelism=1)
    assert len(sent) == 1, "the first page stops the target"
    assert report.removed == report.already_absent == report.rejected == 0
    assert report.failed == 1 and report.not_sent == 19
    assert "not Segment's API (HTTP 404, text/html)" in report.stopped["seg"]
    assert "base_url" in report.stopped["seg"]
    assert {r["status"] for r in results(ledger_dir)} == {"failed"}


def test_a_failed_preflight_sends_no_deletion(tmp_path, monkeypatch):
    deletes = []

    def handler(request, _):
        deletes.append(request.url.path)
        return httpx.Response(200, json={})

    def refusing(request: httpx.Request) -> httpx.Response | None:
        # the export preflight answered 403: the key lacks users.export.ids
        if request.url.path.endswith("/users/export/ids"):
            return httpx.Response(403, json={"message": "Access Denied"})
        return preflight_answer(request)

    monkeypatch.setattr(engine_kit, "preflight_answer", refusing)
    ledger_dir = tmp_path / "l"
    items = [braze_item(external_id="e1"), braze_item(external_id="e2")]
    report = run_engine(ledger_dir, items, handler)
    assert deletes == []
    assert report.not_sent == 2 and "preflight" in report.stopped["brz"]
    assert "403" in report.stopped["brz"]
    assert [r for r in records(ledger_dir) if r["type"] == "intent"] == []


def test_twilio_items_of_an_unconfigured_type_are_not_sent(tmp_path):
    sent = []

    def handler(request, _):
        sent.append(request.url.path)
        return httpx.Response(202, json={"message": "Identifier removal accepted."})

    items = [twilio_item(PROFILE, "email"), twilio_item(PROFILE, "Email")]
    report = run_engine(tmp_path / "l", items, handler)
    assert [p.rsplit("/", 1)[1] for p in sent] == ["email"]
    assert report.accepted == 1 and report.not_sent == 1
    (problem,) = report.problems
    assert problem.state == "not sent" and "did you mean 'email'" in (problem.message or "")


def test_a_twilio_404_is_absent_only_when_the_profile_read_finds_the_profile(tmp_path):
    present, missing = PROFILE, "mem_profile_0bbbbbbbbbbbbbbbbbbbbbbbbb"
    error = {"code": 20404, "message": "Not found", "status": 404}

    def handler(request, _):
        if request.method == "DELETE":
            return httpx.Response(404, json=error)
        if request.url.path.endswith(present):
            return httpx.Response(200, json={"id": present})
        return httpx.Response(404, json=error)

    ledger_dir = tmp_path / "l"
    report = run_engine(
        ledger_dir, [twilio_item(present, "phone"), twilio_item(missing, "phone")], handler
    )
    assert report.already_absent == 1 and report.rejected == 1
    by_status = {r["status"]: r for r in results(ledger_dir)}
    assert by_status["done"]["evidence"] == "absent"
    assert "check the profile_id" in by_status["rejected"]["message"]


def test_braze_deleted_0_reads_the_export_and_is_never_accepted(tmp_path):
    item = braze_item(email="shared@x.example", prioritization=["most_recently_updated"])

    def handler(request, _):
        if request.url.path.endswith("/users/delete"):
            return httpx.Response(201, json={"deleted": 0, "message": "success"})
        body = json.loads(request.content)
        assert body["email_address"] == "shared@x.example"
        return httpx.Response(201, json={"users": [{"external_id": "a"}, {"external_id": "b"}]})

    ledger_dir = tmp_path / "l"
    report = run_engine(ledger_dir, [item], handler)
    assert report.accepted == 0 and report.rejected == 1
    (result,) = results(ledger_dir)
    assert result["status"] == "rejected" and "2 users have this email" in result["message"]


def test_insider_identity_404_is_absent_only_on_the_documented_profile_404(tmp_path):
    def handler(request, _):
        if request.method == "DELETE":
            return httpx.Response(404, json={"error": "not found"})
        return httpx.Response(404, json={"error": "no such user for these identifiers: no data"})

    ledger_dir = tmp_path / "l"
    report = run_engine(ledger_dir, [insider_identifier("email", "gone@x.example")], handler)
    assert report.already_absent == 1
    (result,) = results(ledger_dir)
    assert (result["status"], result["evidence"]) == ("done", "absent")


def test_a_closed_port_trips_the_breaker_within_seconds(tmp_path, monkeypatch):
    items = [seg_item(f"u_{i}", "email", f"a{i}@x.example") for i in range(3000)]

    def refuse(request: httpx.Request, _: Path) -> httpx.Response:
        # a closed port: the preflight read cannot connect either... but the breaker
        # must also hold when the preflight passed and the deletes then fail
        if "reconciler-preflight" in request.url.path:
            return preflight_answer(request)  # type: ignore[return-value]
        raise httpx.ConnectError("All connection attempts failed", request=request)

    monkeypatch.setattr(engine_kit, "preflight_answer", lambda request: None)
    policy = RetryPolicy(max_attempts=8, max_seconds=300, base=0.05, cap=0.2, timeout=2.0)
    started = time.monotonic()
    ledger_dir = tmp_path / "l"
    report = run_engine(ledger_dir, items, refuse, parallelism=8, policy=policy)
    elapsed = time.monotonic() - started
    assert elapsed < 30
    assert "seg" in report.stopped and "consecutive" in report.stopped["seg"]
    assert report.removed == report.already_absent == 0
    assert report.not_sent >= 2990
    states = {s.state for s in read_ledger(ledger_dir).items.values()}
    assert states <= {"failed"}


def test_aimd_halves_on_a_429_and_climbs_back_to_a_ceiling_under_it():
    now = [0.0]
    pacer = Pacer(100.0, clock=lambda: now[0])
    assert pacer.per_second == 100.0
    pacer.slow_down(0.0)
    assert pacer.per_second == 50.0 and pacer.throttled == 1
    # a second 429 from a request already in flight does not halve again
    pacer.slow_down(0.0)
    assert pacer.per_second == 50.0 and pacer.throttled == 2
    now[0] += 5.0  # climbs 5% of the limit a second...
    assert pacer.per_second == 75.0
    now[0] += 10.0  # ...up to 90% of the rate the 429 came at
    assert pacer.per_second == 90.0
    now[0] += 45.0  # quiet for a minute: the ceiling climbs back, slowly (1% a second)
    assert pacer.per_second == 90.0
    now[0] += 5.0
    assert pacer.per_second == 95.0
    now[0] += 100.0
    assert pacer.per_second == 100.0


def test_aimd_pacer_releases_at_its_lowered_rate():
    pacer = Pacer(200.0)
    pacer.slow_down(0.0)

    async def take(n: int) -> float:
        started = time.monotonic()
        for _ in range(n):
            await pacer.acquire()
        return time.monotonic() - started

    elapsed = asyncio.run(take(21))
    # 20 intervals at about 100/s (and a little more as it climbs back)
    assert 0.15 < elapsed < 0.25
    rate = pacer.effective_rate()
    assert rate is not None and 80 < rate < 140

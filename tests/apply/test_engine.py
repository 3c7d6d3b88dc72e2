"""The engine over a mock transport: intents before requests, results after answers,
batches, redirects, stopping a target, and nothing secret or raw in what it records."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx

from reconciler.apply.client import RetryPolicy
from reconciler.apply.engine import Engine, TargetWork
from reconciler.desired import Fingerprinter, Item
from reconciler.ledger.store import RunWriter, create_ledger, item_key, read_ledger, run_files
from reconciler.ledger.verify import item_events, verify_ledger
from reconciler.masking import mask
from tests.apply.wire import (
    BRAZE,
    FAST,
    INSIDER,
    SEGMENT,
    TWILIO,
    braze_item,
    insider_attribute,
    insider_identifier,
    preflight_answer,
    seg_item,
    twilio_item,
)

FP = Fingerprinter.salted(b"engine-test-salt")
SEG_TOKEN = "sgp_engine-secret-token-9f8e7d6c5b4a"
SECRETS = {
    "seg": {"token_env": SEG_TOKEN},
    "brz": {"api_key_env": "braze-engine-secret-key-1a2b3c"},
    "mem": {"account_sid_env": "AC" + "ab" * 16, "auth_token_env": "twilio-engine-secret-4d5e6f"},
    "ins": {"token_env": "insider-engine-secret-7a8b9c"},
}
TARGETS = {"seg": SEGMENT, "brz": BRAZE, "mem": TWILIO, "ins": INSIDER}


def records(ledger_dir: Path) -> list[dict]:
    """Every item event on disk (one per item and record, in order), as a crash right
    now would leave them."""
    return list(item_events(ledger_dir))


def raw_records(ledger_dir: Path) -> list[dict]:
    out = []
    for path in run_files(ledger_dir):
        out += [json.loads(line) for line in path.read_text().splitlines() if line]
    return out


def run_engine(ledger_dir: Path, items: list[Item], handler, parallelism: int = 4, policy=FAST):
    """Send `items` through the engine; `handler(request, ledger_dir)` answers."""
    if not (ledger_dir / "header.jsonl").exists():
        create_ledger(ledger_dir, FP)
    writer = RunWriter(ledger_dir, "run1", {"operation": "apply"})

    def respond(request: httpx.Request) -> httpx.Response:
        request.read()
        # each target's preflight reads, before its deletes
        return preflight_answer(request) or handler(request, ledger_dir)

    works: dict[str, TargetWork] = {}
    for item in items:
        work = works.setdefault(
            item.target, TargetWork(TARGETS[item.target], [], SECRETS[item.target])
        )
        work.pairs.append((FP(item), item))
    engine = Engine(writer, parallelism, policy, transport=lambda: httpx.MockTransport(respond))
    try:
        report = asyncio.run(engine.run(list(works.values())))
    finally:
        writer.close()
    return report


def intents_now(ledger_dir: Path) -> set[str]:
    return {r["fp"] for r in records(ledger_dir) if r["type"] == "intent"}


def test_every_request_is_preceded_by_an_intent_for_each_of_its_items(tmp_path):
    items = [seg_item(f"u_{i}", "email", f"a{i}@x.example") for i in range(5)]
    items += [braze_item(external_id=f"ext_{i}") for i in range(60)]
    items += [twilio_item(f"mem_profile_0{'a' * 24}{i}", "email") for i in range(3)]
    items += [insider_attribute({"uuid": f"u{i}"}, "name") for i in range(4)]
    items += [insider_identifier("email", "solo@x.example")]
    by_fp = {item_key(FP(i)): i for i in items}
    seen_requests: list[tuple[str, set[str]]] = []

    def handler(request: httpx.Request, ledger_dir: Path) -> httpx.Response:
        # the ledger on disk, as a crash right now would leave it
        on_disk = intents_now(ledger_dir)
        results = {r["fp"] for r in records(ledger_dir) if r["type"] == "result"}
        seen_requests.append((request.url.path, on_disk - results))
        if "/users/delete" in request.url.path:
            n = len(json.loads(request.content)["external_ids"])
            return httpx.Response(201, json={"deleted": n})
        if request.method == "DELETE" and "/Identifiers/" in request.url.path:
            return httpx.Response(202, json={"message": "Identifier removal accepted."})
        return httpx.Response(200, json={})

    ledger_dir = tmp_path / "ledger"
    report = run_engine(ledger_dir, items, handler)
    assert len(seen_requests) == 5 + 2 + 3 + 1 + 1  # braze: 50 + 10
    # every in-flight request's items had intents on disk before the request left
    for path, in_flight in seen_requests:
        assert in_flight, f"no intent on disk when {path} was sent"
    all_in_flight = set().union(*(s for _, s in seen_requests))
    assert all_in_flight == set(by_fp)
    states = {fp: s.state for fp, s in read_ledger(ledger_dir).items.items()}
    # Segment's 200 is done (removed); the others queue or only acknowledge: accepted
    assert states == {
        fp: ("done" if item.vendor == "segment" else "accepted") for fp, item in by_fp.items()
    }
    assert (report.removed, report.accepted, report.failed) == (5, 68, 0)
    assert verify_ledger(ledger_dir).ok


def test_intent_then_result_per_item_in_order_and_the_end_summary(tmp_path):
    items = [seg_item("u_1", "email", "a@x.example"), seg_item("u_1", "email", "b@x.example")]

    def handler(request, _):
        return httpx.Response(
            404,
            json={"error": {"code": "eid_not_found", "message": "External identifier not found."}},
        )

    ledger_dir = tmp_path / "ledger"
    report = run_engine(ledger_dir, items, handler, parallelism=1)
    recs = records(ledger_dir)
    kinds = [(r["type"], r.get("fp")) for r in recs]
    fps = [item_key(FP(i)) for i in items]
    # both idempotent requests announced by one intent record, answers grouped after
    assert kinds == [("intent", fps[0]), ("intent", fps[1]), ("result", fps[0]), ("result", fps[1])]
    result = recs[2]
    assert (result["status"], result["code"]) == ("done", 404)
    assert report.already_absent == 2
    assert len(recs[1]["request"]) == 32  # a digest of the requests, never the requests
    raw = raw_records(ledger_dir)
    assert [r["type"] for r in raw] == ["run", "intent", "result", "end"]
    assert raw[1]["requests"] == 2


def test_twilio_308_is_followed_once_and_the_canonical_profile_recorded(tmp_path):
    merged = "mem_profile_0bbbbbbbbbbbbbbbbbbbbbbbbb"
    canonical = "mem_profile_0aaaaaaaaaaaaaaaaaaaaaaaaa"
    store = TWILIO.settings["store_id"]
    paths = []

    def handler(request, _):
        paths.append(request.url.path)
        if merged in request.url.path:
            location = f"https://memory.twilio.com/v1/Stores/{store}/Profiles/{canonical}"
            return httpx.Response(
                308,
                headers={"Location": location, "Canonical-Profile-Id": canonical},
                json={"message": "This resource has moved.", "uri": location},
            )
        return httpx.Response(202, json={"message": "Identifier removal accepted."})

    ledger_dir = tmp_path / "ledger"
    report = run_engine(ledger_dir, [twilio_item(merged, "email")], handler)
    assert paths == [
        f"/v1/Stores/{store}/Profiles/{merged}/Identifiers/email",
        f"/v1/Stores/{store}/Profiles/{canonical}/Identifiers/email",
    ]
    assert report.accepted == 1
    (result,) = [r for r in records(ledger_dir) if r["type"] == "result"]
    assert result["status"] == "accepted"
    # the followed DELETE is another request: it got its own intent before it was sent
    intents = [r for r in records(ledger_dir) if r["type"] == "intent"]
    assert len(intents) == 2 and intents[0]["request"] != intents[1]["request"]
    assert [r["type"] for r in raw_records(ledger_dir)] == [
        "run",
        "intent",
        "intent",
        "result",
        "end",
    ]
    # the canonical id is another profile's identifier: recorded masked, never raw
    assert mask(canonical) in result["note"] and "canonical" in result["note"]
    assert canonical not in result["note"]


def test_a_second_308_is_not_followed(tmp_path):
    store = TWILIO.settings["store_id"]
    calls = []

    other = "mem_profile_0ccccccccccccccccccccccccc"

    def handler(request, _):
        calls.append(request.url.path)
        # the canonical profile says it moved too
        return httpx.Response(
            308,
            headers={"Location": f"https://memory.twilio.com/v1/Stores/{store}/Profiles/{other}"},
        )

    ledger_dir = tmp_path / "ledger"
    report = run_engine(
        ledger_dir, [twilio_item("mem_profile_0bbbbbbbbbbbbbbbbbbbbbbbbb", "email")], handler
    )
    assert len(calls) == 2
    assert report.failed == 1
    assert [*read_ledger(ledger_dir).items.values()][-1].state == "failed"


def test_credentials_refused_stops_the_target_and_sends_nothing_more(tmp_path):
    items = [seg_item(f"u_{i}", "email", f"a{i}@x.example") for i in range(6)]
    items += [braze_item(external_id="ext_1")]
    calls = []

    def handler(request, _):
        calls.append(request.url.path)
        if "/users/delete" in request.url.path:
            return httpx.Response(201, json={"deleted": 1})
        return httpx.Response(
            401,
            json={"error": {"code": "unauthorized", "message": "The specified token is invalid."}},
        )

    ledger_dir = tmp_path / "ledger"
    report = run_engine(ledger_dir, items, handler, parallelism=1)
    assert len([c for c in calls if "/v1/spaces/" in c]) == 1
    assert report.failed == 1 and report.not_sent == 5
    assert report.accepted == 1  # another target carries on
    assert "seg" in report.stopped
    assert not report.ok
    ledger = read_ledger(ledger_dir)
    # the 5 not sent have no intent: they stay pending
    assert sum(1 for s in ledger.items.values() if s.target == "seg") == 1


def test_retries_exhausted_are_failed_with_the_reason_and_vendor_words(tmp_path):
    calls = []

    def handler(request, _):
        calls.append(1)
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "try later"}})

    policy = RetryPolicy(max_attempts=3, max_seconds=5, base=0.001, cap=0.001)
    ledger_dir = tmp_path / "ledger"
    report = run_engine(
        ledger_dir, [seg_item("u_1", "email", "a@x.example")], handler, policy=policy
    )
    assert len(calls) == 3
    assert report.failed == 1
    (problem,) = report.problems
    assert problem.state == "failed" and problem.code == 503
    assert "gave up after 3 attempts" in (problem.message or "")
    assert "try later" in (problem.message or "")
    (status,) = read_ledger(ledger_dir).items.values()
    assert status.state == "failed" and "gave up after 3 attempts" in (status.message or "")


def test_vendor_messages_are_stored_without_secrets_or_raw_values(tmp_path):
    email = "jane.doe@old-domain.example"

    def handler(request, _):
        # a vendor that echoes what it got, credentials included
        auth = request.headers["authorization"]
        return httpx.Response(
            400,
            json={
                "error": {
                    "code": "bad_request",
                    "message": f"bad token {SEG_TOKEN} for {email} ({auth})",
                }
            },
        )

    ledger_dir = tmp_path / "ledger"
    report = run_engine(ledger_dir, [seg_item("u_1", "email", email)], handler)
    assert report.rejected == 1
    text = "".join(p.read_text() for p in run_files(ledger_dir))
    shown = report.problems[0].message or ""
    basic = base64.b64encode(f"{SEG_TOKEN}:".encode()).decode()  # the header's form
    for where in (text, shown, report.problems[0].description):
        assert SEG_TOKEN not in where
        assert basic not in where
        assert email not in where
    assert "[redacted]" in shown
    assert "j***@old-domain.example" in shown

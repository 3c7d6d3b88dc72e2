"""Braze by email or phone is not idempotent: a lost answer is never sent again blindly.

Braze deletes whichever user the prioritization picks; once that user is gone the same
request picks the next match. Such requests are retried only when Braze certainly did not
act (429, no connection), and an item whose answer was lost is held by the plan.
"""

from __future__ import annotations

import httpx
import pytest

from reconciler.desired import Source
from reconciler.plan.model import Action, Summary
from reconciler.vendors.braze.requests import resend_safe
from tests.apply.test_client import scripted
from tests.apply.test_engine import records, run_engine
from tests.apply.wire import BRAZE, braze_item, send

SECRETS = {"api_key_env": "braze-test-key-0123456789"}
BY_EMAIL = braze_item(email="jane@example.com", prioritization=["most_recently_updated"])
BY_ID = braze_item(external_id="ext_1")


def test_which_braze_deletes_are_safe_to_send_again():
    assert resend_safe(BY_ID)
    assert resend_safe(braze_item(user_alias={"alias_name": "a", "alias_label": "l"}))
    assert not resend_safe(BY_EMAIL)
    assert not resend_safe(braze_item(phone="+15555550100", prioritization=["identified"]))


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(503, json={"message": "unavailable"}),
        httpx.Response(502, text="bad gateway"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("reset"),
    ],
)
def test_an_unsafe_request_is_not_retried_once_braze_may_have_acted(reply):
    responder, calls = scripted(reply, httpx.Response(201, json={"deleted": 1}))
    _, sent = send(BRAZE, [BY_EMAIL], SECRETS, responder)
    assert len(calls) == 1
    assert sent.maybe_acted and sent.error

    # the same answer to a delete by external_id is retried, as before
    responder, calls = scripted(reply, httpx.Response(201, json={"deleted": 1}))
    _, sent = send(BRAZE, [BY_ID], SECRETS, responder)
    assert len(calls) == 2 and not sent.maybe_acted and sent.answer.status == 201


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(429, json={"message": "Rate Limited"}), httpx.ConnectError("refused")],
)
def test_an_unsafe_request_is_retried_when_braze_certainly_did_not_act(reply):
    responder, calls = scripted(reply, httpx.Response(201, json={"deleted": 1}))
    _, sent = send(BRAZE, [BY_EMAIL], SECRETS, responder)
    assert len(calls) == 2 and sent.answer.status == 201 and not sent.maybe_acted


def test_a_lost_answer_leaves_the_items_unknown_with_no_result(tmp_path):
    report = run_engine(
        tmp_path / "ledger",
        [BY_EMAIL],
        lambda request, _: httpx.Response(503, json={"message": "unavailable"}),
    )
    kinds = [r["type"] for r in records(tmp_path / "ledger") if r["type"] in ("intent", "result")]
    assert kinds == ["intent"]  # no result: the next plan sees `unknown`
    assert report.unknown == 1 and not report.ok
    assert report.problems[0].state == "unknown"
    assert "jane@example.com" not in (report.problems[0].message or "")


def test_the_plan_holds_an_unknown_unsafe_item_and_resends_a_safe_one():
    src = [Source("m", "specs/m.yaml", 3)]
    held = Action.of("a" * 64, BY_EMAIL, src, "unknown")
    resent = Action.of("b" * 64, BY_ID, src, "unknown")
    assert held.held and not held.will_send and held.action == "hold"
    assert not resent.held and resent.will_send and resent.action == "resend"
    failed = Action.of("c" * 64, BY_EMAIL, src, "failed")  # Braze certainly did not act
    assert failed.will_send and failed.action == "retry"
    summary = Summary()
    summary.count("unknown", held=True)
    assert summary.changes == 0 and summary.held == 1
    assert summary.line() == ("No changes. 1 item(s) are held for review (outcome unknown).")


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, json={"message": "success"}),  # Braze's generic success
        httpx.Response(201, text="queued"),
        httpx.Response(524, text="origin timed out"),
        httpx.Response(520, text="unknown error"),
        httpx.Response(501, text="not implemented"),
        httpx.Response(302, headers={"Location": "/elsewhere"}),
    ],
)
def test_answers_that_do_not_prove_braze_did_nothing_leave_unsafe_items_unknown(tmp_path, reply):
    report = run_engine(tmp_path / "ledger", [BY_EMAIL], lambda request, _: reply)
    kinds = [r["type"] for r in records(tmp_path / "ledger") if r["type"] in ("intent", "result")]
    assert kinds == ["intent"]  # no `failed` result that the next apply would retry
    assert report.unknown == 1 and report.failed == 0


def test_a_2xx_without_the_count_is_failed_and_retried_when_resending_is_safe(tmp_path):
    report = run_engine(
        tmp_path / "ledger",
        [BY_ID],
        lambda request, _: httpx.Response(200, json={"message": "success"}),
    )
    results = [r for r in records(tmp_path / "ledger") if r["type"] == "result"]
    assert [r["status"] for r in results] == ["failed"] and report.failed == 1

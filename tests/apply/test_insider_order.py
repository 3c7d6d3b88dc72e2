"""Insider: an identifier that locates a user is deleted only after that user's
attribute removals succeeded; a 200 that reports failures is not recorded done."""

from __future__ import annotations

import json

import httpx

from tests.apply.test_engine import records, run_engine
from tests.apply.wire import insider_attribute, insider_identifier

JANE = {"email": "jane@example.com"}


def states(ledger_dir) -> dict[str, str]:
    return {r["fp"]: r["status"] for r in records(ledger_dir) if r["type"] == "result"}


def test_identity_deletes_go_after_the_attribute_deletes_they_would_orphan(tmp_path):
    order = []

    def handler(request, _):
        order.append((request.method, request.url.path))
        return httpx.Response(200, json={})

    items = [insider_identifier("email", "jane@example.com"), insider_attribute(JANE, "surname")]
    report = run_engine(tmp_path / "l", items, handler, parallelism=8)
    assert order == [
        ("POST", "/api/user/v1/attribute/delete"),
        ("DELETE", "/api/user/v1/identity"),
    ]
    # Insider's 200 does not say the values were there: acknowledged, not proven removed
    assert report.accepted == 2 and report.removed == 0 and report.ok


def test_an_identity_delete_is_kept_back_when_the_users_attributes_failed(tmp_path):
    sent = []

    def handler(request, _):
        sent.append(request.url.path)
        if request.url.path.endswith("/attribute/delete"):
            return httpx.Response(400, json={"success": False, "message": "bad"})
        return httpx.Response(200, json={})

    other = insider_identifier("email", "someone-else@example.com")
    items = [
        insider_identifier("email", "jane@example.com"),
        insider_attribute(JANE, "surname"),
        other,
    ]
    report = run_engine(tmp_path / "l", items, handler)
    assert sent.count("/api/user/v1/identity") == 1  # only the unrelated identifier
    assert report.held_back == 1 and report.rejected == 1 and report.accepted == 1
    assert not report.ok
    intents = [r for r in records(tmp_path / "l") if r["type"] == "intent"]
    assert len(intents) == 2  # nothing recorded for the identity delete kept back


def test_a_200_listing_failures_is_not_done(tmp_path):
    body = {"data": {"successful": {"count": 0}, "fail": {"jane@example.com": "not found"}}}

    def handler(request, _):
        return httpx.Response(200, json=body)

    report = run_engine(tmp_path / "l", [insider_attribute(JANE, "surname")], handler)
    assert list(states(tmp_path / "l").values()) == ["failed"]
    assert report.failed == 1
    raw = json.dumps(records(tmp_path / "l"))
    assert "jane@example.com" not in raw  # the vendor's words are masked


def test_a_fail_count_of_zero_is_a_success(tmp_path):
    body = {"data": {"successful": {"count": 1}, "fail": {"count": 0}}}
    report = run_engine(
        tmp_path / "l",
        [insider_attribute(JANE, "surname"), insider_identifier("email", "jane@example.com")],
        lambda request, _: httpx.Response(200, json=body),
    )
    assert set(states(tmp_path / "l").values()) == {"accepted"}
    assert report.accepted == 2 and report.held_back == 0


def test_identity_deletes_are_kept_back_whatever_the_email_case(tmp_path):
    def handler(request, _):
        if request.url.path.endswith("/attribute/delete"):
            return httpx.Response(400, json={"success": False, "message": "bad"})
        return httpx.Response(200, json={})

    items = [
        insider_attribute({"email": "Jane@Example.com"}, "surname"),
        insider_identifier("email", "jane@example.com"),
    ]
    report = run_engine(tmp_path / "l", items, handler)
    assert report.held_back == 1

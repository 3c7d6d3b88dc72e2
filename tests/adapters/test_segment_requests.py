"""Segment requests and answers against vendor-docs/FACTS.md section 1.1."""

from __future__ import annotations

import base64

import httpx
import pytest

from reconciler.adapters.segment import SegmentRequests
from reconciler.apply.outcome import DONE, FAILED, REJECTED
from tests.apply.wire import SEGMENT, answer, seg_item, send

SEG = SegmentRequests()
TOKEN = "sgp_SEGMENT-unit-token-5f1c0e9a"
PREFIX = "/v1/spaces/spa_9aXb2/collections/users/profiles/user_id:"


def test_the_documented_request_one_identifier_per_request():
    item = seg_item("u_1001", "email", "jane@old-domain.example")
    request = SEG.build(SEGMENT, [item])
    assert request.method == "POST"
    assert request.path == f"{PREFIX}u_1001/external_ids/delete"
    assert request.query == {}
    assert request.body == {
        "delete_external_ids": [{"id": "jane@old-domain.example", "type": "email"}]
    }


def test_a_request_never_holds_two_identifiers():
    items = [seg_item("u_1", "email", "a@x.example"), seg_item("u_1", "email", "b@x.example")]
    with pytest.raises(ValueError):
        SEG.build(SEGMENT, items)
    pairs = [(f"fp{i}", item) for i, item in enumerate(items)]
    assert SEG.batches(pairs) == [[pairs[0]], [pairs[1]]]


@pytest.mark.parametrize(
    ("user_id", "encoded"),
    [
        ("+15555550100", "%2B15555550100"),  # FACTS 1.2: a + must be %2B
        ("jane@example.com", "jane%40example.com"),
        ("a/b", "a%2Fb"),
        ("with space", "with%20space"),
        ("q?x#y%z", "q%3Fx%23y%25z"),
    ],
)
def test_user_id_is_escaped_in_the_path(user_id, encoded):
    request = SEG.build(SEGMENT, [seg_item(user_id, "email", "x@y.example")])
    assert request.path == f"{PREFIX}{encoded}/external_ids/delete"


def test_on_the_wire_basic_auth_with_token_and_empty_password_and_json():
    item = seg_item("+1/a@b", "phone", "+15555550100")
    wire, sent = send(SEGMENT, [item], {"token_env": TOKEN})
    (request,) = wire.requests
    assert request.method == "POST"
    assert request.url.host == "profiles.segment.com"
    assert request.url.raw_path == f"{PREFIX}%2B1%2Fa%40b/external_ids/delete".encode()
    # `echo -n 'token:' | base64`
    expected = base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/json"
    assert wire.json() == {"delete_external_ids": [{"id": "+15555550100", "type": "phone"}]}
    assert sent.answer is not None and sent.answer.status == 200


ITEM = seg_item("u_1001", "email", "jane@old-domain.example")


def test_200_success_is_done():
    (outcome,) = SEG.interpret(answer(200, {"code": "success"}, request_id="req-1"), [ITEM])
    assert (outcome.state, outcome.code, outcome.already_absent) == (DONE, 200, False)
    assert outcome.request_id == "req-1"


@pytest.mark.parametrize("code", ["eid_not_found", "not_found"])
def test_404_identifier_or_profile_not_found_is_done_already_absent(code):
    body = {"error": {"code": code, "message": "External identifier not found."}}
    (outcome,) = SEG.interpret(answer(404, body), [ITEM])
    assert outcome.state == DONE
    assert outcome.already_absent is True
    assert outcome.code == 404


def test_404_source_id_not_found_is_not_absence():
    body = {"error": {"code": "source_id_not_found", "message": "No source attached"}}
    (outcome,) = SEG.interpret(answer(404, body), [ITEM])
    assert outcome.state == REJECTED
    assert outcome.already_absent is False
    assert "source_id_not_found" in (outcome.message or "")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("bad_request", "External id specification must differ from lookup id."),
        ("unsupported_eid_type", "Unsupported external id type."),
    ],
)
def test_400_is_rejected_with_the_vendor_message(code, message):
    (outcome,) = SEG.interpret(answer(400, {"error": {"code": code, "message": message}}), [ITEM])
    assert outcome.state == REJECTED
    assert outcome.code == 400
    assert outcome.message == f"{code}: {message}"
    assert not outcome.stop_target


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "unauthorized", "The specified token is invalid."),
        (403, "forbidden", "Deleted identifier not activated for space_id spa_9aXb2."),
    ],
)
def test_401_and_403_fail_and_stop_the_target(status, code, message):
    body = {"error": {"code": code, "message": message}}
    (outcome,) = SEG.interpret(answer(status, body), [ITEM])
    assert outcome.state == FAILED
    assert outcome.stop_target is True
    assert outcome.code == status
    assert message in (outcome.message or "")


def test_an_unexpected_5xx_that_reaches_interpret_is_failed_not_rejected():
    (outcome,) = SEG.interpret(answer(500, "oops"), [ITEM])
    assert outcome.state == FAILED


def test_wire_answer_404_eid_not_found_round_trip():
    def responder(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404,
            json={"error": {"code": "eid_not_found", "message": "External identifier not found."}},
        )

    _, sent = send(SEGMENT, [ITEM], {"token_env": TOKEN}, responder)
    assert sent.error is None and sent.attempts == 1
    assert sent.answer is not None
    (outcome,) = SEG.interpret(sent.answer, [ITEM])
    assert outcome.already_absent

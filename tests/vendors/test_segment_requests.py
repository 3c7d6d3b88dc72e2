"""Segment requests and answers against reconciler/vendors/segment/FACTS.md §1-§3."""

from __future__ import annotations

import base64

import pytest

from reconciler.vendors.segment.requests import SegmentRequests
from tests.apply.wire import SEGMENT, seg_item, send

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
        # reconciler/vendors/segment/FACTS.md §3: a + must be %2B
        ("+15555550100", "%2B15555550100"),
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

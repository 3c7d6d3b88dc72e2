"""Insider attribute and identity deletes against reconciler/vendors/insider/FACTS.md §1-§3."""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.vendors.insider.requests import InsiderRequests
from tests.apply.wire import (
    INSIDER,
    insider_attribute,
    insider_identifier,
    insider_value,
    send,
)

INS = InsiderRequests()
TOKEN = "insider-request-token-unit-c41d77e0"
FIVE_MB = 5_000_000  # the stricter reading of "5 MB"
JANE = {"email": "jane@x.example"}


def wire_size(body: object) -> int:
    """The body's size as the client sends it (compact JSON, UTF-8)."""
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


def test_attribute_delete_merges_one_users_items_into_the_documented_shape():
    items = [
        insider_attribute(JANE, "name"),
        insider_attribute(JANE, "surname"),
        insider_value(JANE, "list_id", 1),
        insider_value(JANE, "list_id", 2),
        insider_attribute(JANE, "custom_string_attribute", custom=True),
        insider_value(JANE, "custom_array_attribute", "value1", custom=True),
        insider_attribute({"insider_id": "iid_omar"}, "name"),
        insider_attribute({"custom": {"custom_identifier": "xyz123"}}, "email_optin"),
    ]
    request = INS.build(INSIDER, items)
    assert (request.method, request.path, request.query) == (
        "POST",
        "/api/user/v1/attribute/delete",
        {},
    )
    assert request.body == {
        "users": [
            {
                "identifiers": {"email": "jane@x.example"},
                "whole": ["name", "surname"],
                "partial": {"list_id": [1, 2]},
                "custom": {
                    "whole": ["custom_string_attribute"],
                    "partial": {"custom_array_attribute": ["value1"]},
                },
            },
            # insider_id replaces identifiers (reconciler/vendors/insider/FACTS.md §1)
            {"insider_id": "iid_omar", "whole": ["name"]},
            {"identifiers": {"custom": {"custom_identifier": "xyz123"}}, "whole": ["email_optin"]},
        ]
    }


@pytest.mark.parametrize(
    ("id_type", "value", "identifiers"),
    [
        ("email", "sample@useinsider.com", {"email": "sample@useinsider.com"}),
        ("phone_number", "+6598765432", {"phone_number": "+6598765432"}),
        ("uuid", "u-1", {"uuid": "u-1"}),
        ("custom.user_loyalty_id", "xyz123", {"custom": {"user_loyalty_id": "xyz123"}}),
    ],
)
def test_identity_delete_is_a_delete_with_the_identifier_as_body(id_type, value, identifiers):
    request = INS.build(INSIDER, [insider_identifier(id_type, value)])
    assert (request.method, request.path) == ("DELETE", "/api/user/v1/identity")
    assert request.body == {"identifiers": identifiers}


def test_identity_deletes_go_one_per_request_and_never_with_attributes():
    ids = [insider_identifier("email", f"u{i}@x.example") for i in range(3)]
    attrs = [insider_attribute(JANE, "name"), insider_attribute(JANE, "surname")]
    pairs = [(f"fp{i}", item) for i, item in enumerate([attrs[0], *ids, attrs[1]])]
    batches = INS.batches(pairs)
    identity = [b for b in batches if b[0][1].kind == "identifier"]
    assert sorted(len(b) for b in identity) == [1, 1, 1]
    attribute = [b for b in batches if b[0][1].kind != "identifier"]
    assert attribute == [[pairs[0], pairs[4]]]
    with pytest.raises(ValueError):
        INS.build(INSIDER, ids[:2])


def _users_of(batch):
    return INS.build(INSIDER, [item for _, item in batch]).body["users"]


def test_attribute_batches_hold_at_most_1000_users_and_keep_a_users_items_together():
    pairs = []
    for u in range(2_345):
        loc = {"uuid": f"user-{u}"}
        pairs.append((f"a{u}", insider_attribute(loc, "name")))
    for u in range(2_345):  # a second item per user, listed far from the first
        pairs.append((f"b{u}", insider_value({"uuid": f"user-{u}"}, "list_id", u)))
    batches = INS.batches(pairs)
    assert sorted(p for b in batches for p in b) == sorted(pairs)
    assert [len(_users_of(b)) for b in batches] == [1000, 1000, 345]
    seen: dict[str, int] = {}
    for n, batch in enumerate(batches):
        for _, item in batch:
            assert seen.setdefault(item.locator["uuid"], n) == n, "one user split over requests"
        for user in _users_of(batch):
            assert "whole" in user and "partial" in user  # both items merged in one entry


def test_attribute_batches_stay_under_5_mb():
    big = "v" * 6_000
    pairs = [
        (f"fp{u}", insider_value({"uuid": f"user-{u}"}, "notes", f"{big}{u}")) for u in range(2_000)
    ]
    batches = INS.batches(pairs)
    assert len(batches) >= 3  # 2,000 users of ~6 KB cannot fit in two 5 MB requests
    for batch in batches:
        body = INS.build(INSIDER, [item for _, item in batch]).body
        assert wire_size(body) <= FIVE_MB
        assert len(body["users"]) <= 1000
    # and they are not needlessly small: each but the last is filled past 4.9 MB
    assert all(
        wire_size(INS.build(INSIDER, [i for _, i in b]).body) > 4_900_000 for b in batches[:-1]
    )


def test_on_the_wire_partner_and_token_headers_and_a_json_delete_body():
    wire, _ = send(
        INSIDER,
        [insider_identifier("custom.loyalty_id", "L-1")],
        {"token_env": TOKEN},
    )
    (request,) = wire.requests
    assert request.method == "DELETE"
    assert str(request.url) == "https://unification.useinsider.com/api/user/v1/identity"
    assert request.headers["x-partner-name"] == "mybrand"
    assert request.headers["x-request-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert wire.json() == {"identifiers": {"custom": {"loyalty_id": "L-1"}}}


ATTRS = [insider_attribute(JANE, "name"), insider_attribute(JANE, "surname")]
IDENT = [insider_identifier("email", "solo@example.com")]


def test_wire_answer_400_is_not_retried():
    calls = []

    def responder(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": "you cannot delete the sole identifier"})

    _, sent = send(INSIDER, IDENT, {"token_env": TOKEN}, responder)
    assert len(calls) == 1
    assert sent.answer is not None and sent.answer.status == 400 and sent.error is None

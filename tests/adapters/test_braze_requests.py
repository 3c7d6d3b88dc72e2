"""Braze `/users/delete` requests and answers against vendor-docs/FACTS.md section 2."""

from __future__ import annotations

import httpx
import pytest

from reconciler.adapters.braze import BrazeRequests
from reconciler.apply.outcome import ACCEPTED, FAILED, REJECTED
from tests.apply.wire import BRAZE, answer, braze_item, send

BRZ = BrazeRequests()
KEY = "braze-REST-key-unit-7d3f0c2b-91aa"


@pytest.mark.parametrize(
    ("locator", "body"),
    [
        ({"external_id": "ext_1"}, {"external_ids": ["ext_1"]}),
        ({"braze_id": "65f0c0ffee0000000000a002"}, {"braze_ids": ["65f0c0ffee0000000000a002"]}),
        (
            {"user_alias": {"alias_name": "jane", "alias_label": "crm"}},
            {"user_aliases": [{"alias_name": "jane", "alias_label": "crm"}]},
        ),
        (
            {
                "email": "jane@x.example",
                "prioritization": ["unidentified", "most_recently_updated"],
            },
            {
                "email_addresses": [
                    {
                        "email": "jane@x.example",
                        "prioritization": ["unidentified", "most_recently_updated"],
                    }
                ]
            },
        ),
        (
            {"phone": "+15555550100", "prioritization": ["identified"]},
            {"phone_numbers": [{"phone": "+15555550100", "prioritization": ["identified"]}]},
        ),
    ],
)
def test_each_identifier_type_has_its_documented_shape(locator, body):
    request = BRZ.build(BRAZE, [braze_item(**locator)])
    assert (request.method, request.path, request.query) == ("POST", "/users/delete", {})
    assert request.body == body


def test_batches_group_by_identifier_type_in_requests_of_at_most_50():
    externals = [braze_item(external_id=f"ext_{i}") for i in range(120)]
    emails = [
        braze_item(email=f"u{i}@x.example", prioritization=["most_recently_updated"])
        for i in range(3)
    ]
    aliases = [
        braze_item(user_alias={"alias_name": f"a{i}", "alias_label": "crm"}) for i in range(51)
    ]
    # interleaved, as manifests may list them
    items = [x for group in zip(externals, emails + aliases, strict=False) for x in group]
    items += externals[len(emails + aliases) :]
    pairs = [(f"fp{i}", item) for i, item in enumerate(items)]
    batches = BRZ.batches(pairs)

    assert sorted(p for b in batches for p in b) == sorted(pairs)  # every item once
    assert all(1 <= len(b) <= 50 for b in batches)
    for batch in batches:
        body = BRZ.build(BRAZE, [item for _, item in batch]).body
        assert len(body) == 1, "one identifier type per request"
        (field,) = body
        assert len(body[field]) == len(batch)
    sizes = sorted((next(iter(BRZ.build(BRAZE, [i for _, i in b]).body)), len(b)) for b in batches)
    assert sizes == [
        ("email_addresses", 3),
        ("external_ids", 20),
        ("external_ids", 50),
        ("external_ids", 50),
        ("user_aliases", 1),
        ("user_aliases", 50),
    ]


def test_build_refuses_mixed_types_and_more_than_50():
    with pytest.raises(ValueError):
        BRZ.build(BRAZE, [braze_item(external_id="a"), braze_item(braze_id="b")])
    with pytest.raises(ValueError):
        BRZ.build(BRAZE, [braze_item(external_id=str(i)) for i in range(51)])


def test_on_the_wire_bearer_key_and_json():
    items = [braze_item(external_id="ext_1"), braze_item(external_id="ext_2")]
    wire, _ = send(
        BRAZE,
        items,
        {"api_key_env": KEY},
        lambda r: httpx.Response(201, json={"deleted": 2, "message": "success"}),
    )
    (request,) = wire.requests
    assert request.method == "POST"
    assert str(request.url) == "https://rest.iad-01.braze.com/users/delete"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert wire.json() == {"external_ids": ["ext_1", "ext_2"]}


ITEMS = [braze_item(external_id=f"ext_{i}") for i in range(4)]


@pytest.mark.parametrize("status", [200, 201, 202])
def test_any_2xx_with_deleted_n_equal_to_the_batch_is_accepted_without_note(status):
    outcomes = BRZ.interpret(answer(status, {"deleted": 4, "message": "success"}), ITEMS)
    assert [o.state for o in outcomes] == [ACCEPTED] * 4
    assert all(o.note is None for o in outcomes)


def test_deleted_fewer_than_the_batch_accepts_all_with_a_note():
    outcomes = BRZ.interpret(answer(201, {"deleted": 1, "message": "success"}), ITEMS)
    assert [o.state for o in outcomes] == [ACCEPTED] * 4
    for o in outcomes:
        assert o.note is not None
        assert "1 of the 4" in o.note


def test_a_2xx_without_deleted_is_not_taken_as_proof():
    outcomes = BRZ.interpret(answer(200, {"message": "success"}), ITEMS)
    assert [o.state for o in outcomes] == [FAILED] * 4


def test_400_is_rejected_with_the_vendor_message():
    body = {"message": "The max number of ids per request was exceeded", "errors": []}
    outcomes = BRZ.interpret(answer(400, body), ITEMS)
    assert [o.state for o in outcomes] == [REJECTED] * 4
    assert outcomes[0].message == "The max number of ids per request was exceeded"


@pytest.mark.parametrize(("status", "message"), [(401, "Unauthorized"), (403, "Access Denied")])
def test_401_and_403_fail_and_stop_the_target(status, message):
    outcomes = BRZ.interpret(answer(status, {"message": message}), ITEMS)
    assert [o.state for o in outcomes] == [FAILED] * 4
    assert all(o.stop_target for o in outcomes)
    assert message in (outcomes[0].message or "")

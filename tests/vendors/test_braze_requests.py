"""Braze `/users/delete` requests and answers against reconciler/vendors/braze/FACTS.md
§1-§3."""

from __future__ import annotations

import httpx
import pytest

from reconciler.vendors.braze.requests import BrazeRequests
from tests.apply.wire import BRAZE, braze_item, send

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
    # one email a request, so that Braze's `deleted` count belongs to one item
    assert sizes == [
        ("email_addresses", 1),
        ("email_addresses", 1),
        ("email_addresses", 1),
        ("external_ids", 20),
        ("external_ids", 50),
        ("external_ids", 50),
        ("user_aliases", 1),
        ("user_aliases", 50),
    ]


def test_build_refuses_mixed_types_more_than_50_ids_and_two_emails():
    with pytest.raises(ValueError):
        BRZ.build(BRAZE, [braze_item(external_id="a"), braze_item(braze_id="b")])
    with pytest.raises(ValueError):
        BRZ.build(BRAZE, [braze_item(external_id=str(i)) for i in range(51)])
    emails = [braze_item(email=f"u{i}@x.example", prioritization=["identified"]) for i in (1, 2)]
    with pytest.raises(ValueError):
        BRZ.build(BRAZE, emails)


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

"""Twilio Memory remove-identifier requests and answers
(reconciler/vendors/twilio_memory/FACTS.md §1-§3)."""

from __future__ import annotations

import base64

import httpx
import pytest

from reconciler.vendors.twilio_memory.requests import TwilioMemoryRequests
from tests.apply.wire import TWILIO, answer, send, twilio_item

MEM = TwilioMemoryRequests()
STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2a1"
CANONICAL = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2zz"
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-unit-3b9e61d2"
PATH = f"/v1/Stores/{STORE}/Profiles/{PROFILE}/Identifiers/email"
ITEM = twilio_item(PROFILE, "email")


def test_the_documented_request_delete_with_remove_all_and_no_body():
    request = MEM.build(TWILIO, [ITEM])
    assert request.method == "DELETE"
    assert request.path == PATH
    assert request.query == {"removeAll": "true"}
    assert request.body is None


def test_one_request_per_identifier_type():
    pairs = [("a", twilio_item(PROFILE, "email")), ("b", twilio_item(PROFILE, "phone"))]
    assert MEM.batches(pairs) == [[pairs[0]], [pairs[1]]]
    with pytest.raises(ValueError):
        MEM.build(TWILIO, [p[1] for p in pairs])


def test_on_the_wire_basic_sid_and_token_query_and_no_body():
    wire, sent = send(
        TWILIO,
        [twilio_item(PROFILE, "external-Id_2")],
        {"account_sid_env": SID, "auth_token_env": TOKEN},
        lambda r: httpx.Response(202, json={"message": "Identifier removal accepted."}),
    )
    (request,) = wire.requests
    assert request.method == "DELETE"
    assert request.url.host == "memory.twilio.com"
    assert (
        request.url.raw_path
        == (
            f"/v1/Stores/{STORE}/Profiles/{PROFILE}/Identifiers/external-Id_2?removeAll=true"
        ).encode()
    )
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.content == b""
    assert "content-type" not in request.headers
    assert sent.answer is not None and sent.answer.status == 202


def _moved(location: str) -> object:
    return answer(
        308,
        {"message": "This resource has moved.", "uri": location},
        location=location,
        canonical_profile_id=CANONICAL,
    )


@pytest.mark.parametrize(
    "location",
    [
        # the vendor's own host, as documented
        f"https://memory.twilio.com/v1/Stores/{STORE}/Profiles/{CANONICAL}/Identifiers/email"
        "?removeAll=true",
        # the canonical profile only
        f"https://memory.twilio.com/v1/Stores/{STORE}/Profiles/{CANONICAL}",
        # behind a base URL with a path (a proxy, the sandbox)
        f"http://127.0.0.1:9/twilio_memory/v1/Stores/{STORE}/Profiles/{CANONICAL}"
        "/Identifiers/email?removeAll=true",
    ],
)
def test_308_is_followed_once_to_the_canonical_profile(location):
    request = MEM.build(TWILIO, [ITEM])
    follow = MEM.redirect(_moved(location), request)
    assert follow is not None
    assert follow.method == "DELETE"
    assert follow.path == f"/v1/Stores/{STORE}/Profiles/{CANONICAL}/Identifiers/email"
    assert follow.query == {"removeAll": "true"}
    assert follow.body is None


def test_308_to_another_store_or_a_bad_id_is_not_followed():
    request = MEM.build(TWILIO, [ITEM])
    other_store = f"https://memory.twilio.com/v1/Stores/mem_store_0zzzzzzzzzzzzzzzzzzzzzzzzz/Profiles/{CANONICAL}"
    bad = answer(308, {}, location=other_store)
    assert MEM.redirect(bad, request) is None
    bogus = answer(308, {}, location="https://memory.twilio.com/elsewhere")
    assert MEM.redirect(bogus, request) is None


def test_no_redirect_for_other_statuses():
    request = MEM.build(TWILIO, [ITEM])
    assert MEM.redirect(answer(202, {}, location="https://x/y"), request) is None

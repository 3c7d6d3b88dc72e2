"""Twilio Memory: documented rules, the OpenAPI spec, and the official twilio library."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from reconciler.sandbox import Sandbox, SandboxOptions

from .conftest import LIFO_PROFILE, MERGED, PROFILE, STORE, TWILIO_AUTH, TWILIO_SID, TWILIO_TOKEN

SPEC_PATH = Path(__file__).parent / "data" / "twilio_memory_v1.openapi.json"
TWILIO_HOST = "https://memory.twilio.com"


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(SPEC_PATH.read_text()))


def identifiers_url(sb: Sandbox, profile: str = PROFILE, store: str = STORE) -> str:
    return f"{sb.urls['twilio_memory']}/v1/Stores/{store}/Profiles/{profile}/Identifiers"


def validated(
    spec: OpenAPI,
    sb: Sandbox,
    http: httpx.Client,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    check_request: bool = True,
    **params: str,
) -> httpx.Response:
    """Send a request and check it (unless it breaks a rule on purpose) and its answer
    against Twilio's OpenAPI spec."""
    headers = TWILIO_AUTH if headers is None else headers
    response = http.request(method, url, params=params, headers=headers)
    vendor_path = urlsplit(url).path.removeprefix("/twilio_memory")
    request = MockRequest(
        TWILIO_HOST, method.lower(), vendor_path, args=params, headers=headers, content_type=None
    )
    if check_request:
        spec.validate_request(request)
    spec.validate_response(
        request,
        MockResponse(
            response.content,
            response.status_code,
            dict(response.headers),
            response.headers.get("content-type", "application/json"),
        ),
    )
    return response


def twilio_error(status: int, code: int) -> dict[str, object]:
    body_of = {
        400: None,
        401: "Failed to complete request due to lack of authentication credentials",
        404: "Not Found",
        429: "Too many requests. Please retry according to the Retry-After response header.",
        503: "Service Unavailable",
    }
    body: dict[str, object] = {
        "code": code,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/api/errors/{code}",
    }
    if body_of[status]:
        body["message"] = body_of[status]
    return body


def test_remove_all_is_accepted_then_applied_after_the_delay(spec, sb, http):
    url = identifiers_url(sb) + "/email"
    response = validated(spec, sb, http, "DELETE", url, removeAll="true")
    assert response.status_code == 202
    assert response.json() == {"message": "Identifier removal accepted."}
    # Asynchronous: the values are still there right after the 202 ...
    listed = validated(spec, sb, http, "GET", identifiers_url(sb)).json()
    assert {s["idType"] for s in listed["identifiers"]} == {"email", "phone"}
    time.sleep(0.25)  # ... and gone after the configured delay (0.2 s in these tests)
    listed = validated(spec, sb, http, "GET", identifiers_url(sb)).json()
    assert listed == {
        "identifiers": [{"idType": "phone", "values": ["+15555550100", "+15555550101"]}]
    }
    gone = validated(spec, sb, http, "GET", url)
    assert gone.status_code == 404
    assert gone.json() == twilio_error(404, 20404)


def test_without_remove_all_the_limit_policy_picks_the_value(spec, sb, http):
    validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/email")  # fifo: oldest goes
    validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/phone")  # lifo: newest goes
    sb.control.settle()
    assert validated(spec, sb, http, "GET", identifiers_url(sb) + "/email").json() == {
        "idType": "email",
        "values": ["new@example.com"],
    }
    assert validated(spec, sb, http, "GET", identifiers_url(sb) + "/phone").json() == {
        "idType": "phone",
        "values": ["+15555550100"],
    }


def test_auth_is_basic_sid_and_token(spec, sb, http):
    for headers in ({}, {"Authorization": "Bearer abc"}):
        response = validated(
            spec,
            sb,
            http,
            "DELETE",
            identifiers_url(sb) + "/email",
            headers=headers,
            check_request=False,
            removeAll="true",
        )
        assert response.status_code == 401
        assert response.json() == twilio_error(401, 20003)


def test_path_patterns_are_enforced(sb, http):
    bad = [
        identifiers_url(sb, store="mem_store_9" + "a" * 25) + "/email",
        identifiers_url(sb, profile="mem_profile_short") + "/email",
        identifiers_url(sb) + "/e",
        identifiers_url(sb) + "/" + "x" * 31,
        identifiers_url(sb) + "/em.ail",
    ]
    for url in bad:
        response = http.delete(url, params={"removeAll": "true"}, headers=TWILIO_AUTH)
        assert response.status_code == 400, url
        body = response.json()
        assert body["code"] == 400 and body["status"] == 400
        assert body["more_info"] == "https://www.twilio.com/docs/api/errors/400"


def test_remove_all_must_be_a_boolean(sb, http):
    response = http.delete(
        identifiers_url(sb) + "/email", params={"removeAll": "yes"}, headers=TWILIO_AUTH
    )
    assert response.status_code == 400
    assert response.json()["code"] == 400


def test_unknown_profile_and_type_are_404(spec, sb, http):
    for url in (
        identifiers_url(sb, profile=LIFO_PROFILE) + "/email",
        identifiers_url(sb) + "/externalId",
    ):
        response = validated(spec, sb, http, "DELETE", url, removeAll="true")
        assert response.status_code == 404
        assert response.json() == twilio_error(404, 20404)


def test_merged_profile_redirects(spec, sb, http):
    url = identifiers_url(sb, profile=MERGED) + "/email"
    response = validated(spec, sb, http, "DELETE", url, removeAll="true")
    assert response.status_code == 308
    canonical = identifiers_url(sb) + "/email?removeAll=true"
    assert response.json() == {"message": "This resource has moved.", "uri": canonical}
    assert response.headers["Location"] == canonical
    assert response.headers["Canonical-Profile-Id"] == PROFILE
    read = validated(spec, sb, http, "GET", identifiers_url(sb, profile=MERGED))
    assert read.status_code == 301
    assert read.headers["Canonical-Profile-Id"] == PROFILE


def test_throttling_and_outage_use_the_twilio_envelope(spec, sb, http):
    sb.control.set_faults("twilio_memory", throttle_rate=1.0)
    response = validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/email", removeAll="true")
    assert response.status_code == 429
    assert response.json() == twilio_error(429, 20429)
    assert response.headers["Retry-After"].isdigit()
    sb.control.set_faults("twilio_memory", throttle_rate=0.0, fail_rate=1.0)
    response = validated(spec, sb, http, "GET", identifiers_url(sb))
    assert response.status_code == 503
    assert response.json() == twilio_error(503, 20503)


def test_official_twilio_library_deletes_through_the_sandbox(sb):
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    client = Client(TWILIO_SID, TWILIO_TOKEN)
    client.memory.base_url = sb.urls["twilio_memory"]  # the only change: the base URL
    result = client.memory.v1.identifiers(STORE, PROFILE, "email").delete(remove_all=True)
    assert result == {"message": "Identifier removal accepted."}
    assert client.memory.v1.identifiers(STORE, PROFILE, "phone").fetch().values == [
        "+15555550100",
        "+15555550101",
    ]
    sb.control.settle()
    listed = client.memory.v1.identifiers(STORE, PROFILE).list()
    assert [(i.id_type, i.values) for i in listed] == [("phone", ["+15555550100", "+15555550101"])]
    with pytest.raises(TwilioRestException) as raised:
        client.memory.v1.identifiers(STORE, PROFILE, "email").fetch()
    assert raised.value.status == 404 and raised.value.code == 20404
    (entry, *_) = sb.control.requests(vendor="twilio_memory")
    assert entry["method"] == "DELETE" and entry["query"] == "removeAll=true"
    assert entry["violations"] == []


def test_the_store_read_conforms_and_404s_for_an_unknown_store(spec, sb, http):
    base = f"{sb.urls['twilio_memory']}/v1/ControlPlane/Stores"
    found = validated(spec, sb, http, "GET", f"{base}/{STORE}")
    assert found.status_code == 200
    assert found.json()["id"] == STORE and found.json()["status"] == "ACTIVE"
    missing = validated(spec, sb, http, "GET", f"{base}/mem_store_0{'z' * 25}")
    assert missing.status_code == 404
    assert missing.json() == twilio_error(404, 20404)
    # the spec lists no 401 for this path; Twilio answers a missing login with 401/20003
    unauthorized = http.get(f"{base}/{STORE}")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["code"] == 20003


def profile_url(sb: Sandbox, profile: str = PROFILE, store: str = STORE) -> str:
    return f"{sb.urls['twilio_memory']}/v1/Stores/{store}/Profiles/{profile}"


def settings_url(sb: Sandbox, store: str = STORE) -> str:
    return f"{sb.urls['twilio_memory']}/v1/ControlPlane/Stores/{store}/IdentityResolutionSettings"


def test_the_profile_read_conforms_404s_and_redirects_merged_profiles(spec, sb, http):
    found = validated(spec, sb, http, "GET", profile_url(sb))
    assert found.status_code == 200
    assert found.json() == {
        "id": PROFILE,
        "createdAt": "2025-06-01T12:00:00Z",
        "traits": {
            "Contact": {"firstName": "Jane", "email": "new@example.com"},
            "Loyalty": {"tier": "gold", "points": 120},
        },
    }
    some = validated(spec, sb, http, "GET", profile_url(sb), traitGroups="Loyalty,Other")
    assert some.json()["traits"] == {"Loyalty": {"tier": "gold", "points": 120}}
    missing = validated(spec, sb, http, "GET", profile_url(sb, profile=LIFO_PROFILE))
    assert missing.status_code == 404
    assert missing.json() == twilio_error(404, 20404)
    merged = validated(spec, sb, http, "GET", profile_url(sb, profile=MERGED))
    assert merged.status_code == 301
    assert merged.headers["Location"] == profile_url(sb)
    assert merged.headers["Canonical-Profile-Id"] == PROFILE
    assert merged.json() == {"message": "This resource has moved.", "uri": profile_url(sb)}
    # removing identifiers leaves the profile readable: "profile present" stays provable
    validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/email", removeAll="true")
    validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/phone", removeAll="true")
    sb.control.settle()
    assert validated(spec, sb, http, "GET", identifiers_url(sb)).json() == {"identifiers": []}
    assert validated(spec, sb, http, "GET", profile_url(sb)).status_code == 200


def test_identity_resolution_settings_default_to_the_seeded_id_types(spec, sb, http):
    response = validated(spec, sb, http, "GET", settings_url(sb))
    assert response.status_code == 200
    # the seed gives limit_policy {phone: lifo} and profiles holding email and phone
    assert response.json() == {
        "identifierConfigs": [
            {
                "idType": "phone",
                "matchingAlgo": "exact",
                "limit": 100,
                "limitPolicy": "lifo",
                "enforceUnique": True,
                "normalization": "phone",
            },
            {
                "idType": "email",
                "matchingAlgo": "exact",
                "limit": 100,
                "limitPolicy": "fifo",
                "enforceUnique": True,
                "normalization": "email",
            },
        ],
        "matchingRules": ["phone", "email"],
        "version": 1,
    }
    assert response.headers["ETag"].startswith('"')
    # the settings do not change when every value of an idType is removed
    validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/email", removeAll="true")
    sb.control.settle()
    assert validated(spec, sb, http, "GET", settings_url(sb)).json() == response.json()
    missing = validated(spec, sb, http, "GET", settings_url(sb, store=f"mem_store_0{'z' * 25}"))
    assert missing.status_code == 404
    assert missing.json() == twilio_error(404, 20404)
    bad = http.get(settings_url(sb, store="mem_store_nope"), headers=TWILIO_AUTH)
    assert bad.status_code == 400 and bad.json()["code"] == 400
    unauthorized = http.get(settings_url(sb))
    assert unauthorized.status_code == 401 and unauthorized.json()["code"] == 20003


CONFIGURED_SEED = {
    "twilio_memory": {
        "stores": {
            STORE: {
                "identifier_configs": [
                    {"idType": "email", "limitPolicy": "lifo", "limit": 5},
                    {"idType": "externalId", "normalization": "none", "enforceUnique": False},
                ],
                "profiles": {
                    PROFILE: {"identifiers": {"email": ["a@example.com", "b@example.com"]}}
                },
            },
            "mem_store_01h8x3k9q2w7e5r4t6y8u0i2e5": {"profiles": {}},
        }
    }
}


def test_seeded_identifier_configs_and_an_unconfigured_id_type(spec, http):
    with Sandbox(SandboxOptions(seed=CONFIGURED_SEED, twilio_removal_delay=0)) as sb:
        settings = validated(spec, sb, http, "GET", settings_url(sb)).json()
        assert settings["identifierConfigs"] == [
            {
                "idType": "email",
                "matchingAlgo": "exact",
                "limit": 5,
                "limitPolicy": "lifo",
                "enforceUnique": True,
                "normalization": "email",
            },
            {
                "idType": "externalId",
                "matchingAlgo": "exact",
                "limit": 100,
                "limitPolicy": "fifo",
                "enforceUnique": False,
                "normalization": "none",
            },
        ]
        assert settings["matchingRules"] == ["email", "externalId"]
        # a store with no profiles and no configs: email and phone, the spec's example types
        empty = validated(
            spec, sb, http, "GET", settings_url(sb, store="mem_store_01h8x3k9q2w7e5r4t6y8u0i2e5")
        ).json()
        assert [c["idType"] for c in empty["identifierConfigs"]] == ["email", "phone"]
        # wrong case, unknown, configured-but-empty: the same 404, told apart only by reads
        for id_type in ("Email", "fax", "externalId"):
            for method in ("DELETE", "GET"):
                response = validated(spec, sb, http, method, identifiers_url(sb) + f"/{id_type}")
                assert response.status_code == 404, (method, id_type)
                assert response.json() == twilio_error(404, 20404)
        rules = [e["violations"][0]["rule"] for e in sb.control.requests("twilio_memory")[-6:]]
        assert (
            rules
            == ["twilio_memory.id_type_not_configured"] * 4
            + ["twilio_memory.identifier_not_found"] * 2
        )
        accepted = validated(spec, sb, http, "DELETE", identifiers_url(sb) + "/email")
        assert accepted.status_code == 202
        listed = validated(spec, sb, http, "GET", identifiers_url(sb)).json()
        assert listed == {"identifiers": [{"idType": "email", "values": ["a@example.com"]}]}


def test_a_seed_profile_holding_an_unconfigured_id_type_is_refused():
    from reconciler.sandbox.seed import SeedError, state_from_seed

    seed = {
        "twilio_memory": {
            "stores": {
                STORE: {
                    "identifier_configs": [{"idType": "email"}],
                    "profiles": {PROFILE: {"identifiers": {"Email": ["a@example.com"]}}},
                }
            }
        }
    }
    with pytest.raises(SeedError) as raised:
        state_from_seed(seed)
    assert str(raised.value) == (
        f"twilio_memory.stores.{STORE}.profiles.{PROFILE}.identifiers.Email: this idType is "
        "not in the store's identifier_configs (idTypes are case-sensitive)"
    )
    both = {
        "twilio_memory": {
            "stores": {STORE: {"identifier_configs": [{"idType": "email"}], "limit_policy": {}}}
        }
    }
    with pytest.raises(SeedError, match="give limitPolicy inside identifier_configs"):
        state_from_seed(both)

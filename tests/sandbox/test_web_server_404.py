"""Paths no vendor serves answer a web server's HTML 404, never a vendor's JSON envelope;
the vendors' own documented 404s on their real paths are unchanged."""

from __future__ import annotations

import httpx
import pytest

from reconciler.sandbox import Sandbox

from .conftest import BRAZE_AUTH, INSIDER_AUTH, PROFILE, SEGMENT_AUTH, STORE, TWILIO_AUTH

PROFILES = "/v1/spaces/spa_demo/collections/users/profiles"
UNSERVED = [
    # (vendor, method, path below the vendor's base URL, auth)
    ("segment", "GET", f"{PROFILES}/user_id:u_1001/traits", SEGMENT_AUTH),
    ("segment", "POST", f"{PROFILES}/user_id:u_1001/external_ids/remove", SEGMENT_AUTH),
    ("segment", "POST", "/v1/spaces/spa_demo/external_ids/delete", SEGMENT_AUTH),
    ("braze", "POST", "/users/track", BRAZE_AUTH),
    ("braze", "POST", "/user/delete", BRAZE_AUTH),
    (
        "twilio_memory",
        "DELETE",
        f"/v2/Stores/{STORE}/Profiles/{PROFILE}/Identifiers/email",
        TWILIO_AUTH,
    ),
    ("twilio_memory", "GET", f"/v1/Stores/{STORE}/Profile/{PROFILE}", TWILIO_AUTH),
    ("insider", "POST", "/api/user/v2/attribute/delete", INSIDER_AUTH),
    ("insider", "DELETE", "/api/user/v1/identities", INSIDER_AUTH),
]


def assert_web_server_404(response: httpx.Response) -> None:
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>404 Not Found</title>" in response.text
    assert "<center>nginx</center>" in response.text
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.parametrize(("vendor", "method", "path", "auth"), UNSERVED)
def test_a_path_the_vendor_does_not_serve_answers_html(sb, http, vendor, method, path, auth):
    before = sb.control.state()
    response = http.request(method, sb.urls[vendor] + path, headers=auth, json={"x": 1})
    assert_web_server_404(response)
    (entry,) = sb.control.requests(vendor)
    assert entry["status"] == 404
    assert entry["violations"][0]["rule"] == f"{vendor}.route"
    assert sb.control.state() == before


@pytest.mark.parametrize(
    "path",
    [
        "/users/delete",  # the base URL without the vendor prefix
        "/brze/users/delete",  # a typo in the prefix
        "/braze/braze/users/delete",  # the prefix twice
        "/",
    ],
)
def test_an_unknown_prefix_answers_html_and_is_logged(sb: Sandbox, http, path):
    body = {"external_ids": ["ext_1"]}
    response = http.post(sb.base_url + path, headers=BRAZE_AUTH, json=body)
    assert_web_server_404(response)
    (entry,) = sb.control.requests()
    assert entry["path"] == path and entry["status"] == 404
    if path.startswith("/braze/"):
        assert entry["vendor"] == "braze"
    else:
        assert entry["vendor"] == "unknown"
        assert entry["violations"] == [
            {"rule": "sandbox.route", "message": "no vendor is served below this path"}
        ]
    assert [u.get("external_id") for u in sb.control.state()["braze"]["users"]][0] == "ext_1"


def test_the_vendors_documented_404s_stay_json(sb, http):
    segment = http.get(
        f"{sb.urls['segment']}{PROFILES}/user_id:u_nobody/external_ids", headers=SEGMENT_AUTH
    )
    assert segment.status_code == 404
    assert segment.json() == {"error": {"code": "not_found", "message": "Profile was not found."}}
    missing = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2zz"
    twilio = http.get(
        f"{sb.urls['twilio_memory']}/v1/Stores/{STORE}/Profiles/{missing}/Identifiers",
        headers=TWILIO_AUTH,
    )
    assert twilio.status_code == 404
    assert twilio.json()["code"] == 20404
    insider = http.post(
        f"{sb.urls['insider']}/api/user/v1/profile",
        headers=INSIDER_AUTH,
        json={"identifiers": {"email": "nobody@example.com"}, "attributes": ["email"]},
    )
    assert insider.status_code == 404
    assert insider.json() == {"error": "no such user for these identifiers: no data"}

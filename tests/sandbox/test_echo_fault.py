"""The echo fault: an error in the vendor's shape that repeats the request's headers,
body, phone numbers in other formats and the profile's other identifiers."""

from __future__ import annotations

import json

import httpx

from reconciler.sandbox import Sandbox, SandboxOptions
from reconciler.sandbox.echo import phone_formats

from .conftest import BRAZE_AUTH, INSIDER_AUTH, PROFILE, SEED, SEGMENT_AUTH, STORE, TWILIO_AUTH

PHONE_FORMATS = ["+1 555-555-0100", "(555) 555-0100", "15555550100", "555-555-0100"]
SEGMENT_DELETE = "/v1/spaces/spa_demo/collections/users/profiles/user_id:u_1001/external_ids/delete"


def test_phone_formats():
    assert phone_formats("+15555550100") == PHONE_FORMATS
    assert phone_formats("+442071838750") == ["+44 2071838750", "442071838750", "00442071838750"]


def test_segment_echo_holds_headers_body_phone_formats_and_the_profiles_ids(sb, http):
    sb.control.set_faults("segment", echo_rate=1.0)
    body = {"delete_external_ids": [{"type": "phone", "id": "+15555550100"}]}
    response = http.post(sb.urls["segment"] + SEGMENT_DELETE, json=body, headers=SEGMENT_AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(response.json()) == {"error"} and error["code"] == "bad_request"
    message = error["message"]
    assert message.startswith(f"Invalid request. Request: POST /segment{SEGMENT_DELETE} | ")
    assert SEGMENT_AUTH["Authorization"] in message  # the secret, echoed
    assert f"| Body: {json.dumps(body, separators=(',', ':'))} |" in message
    for form in PHONE_FORMATS:
        assert form in message
    for other in ("u_1001", "jane@old-domain.example", "jane@example.com", "a-1", "g-1"):
        assert other in message
    (entry,) = sb.control.requests("segment")
    assert entry["fault"] == "echo" and entry["status"] == 400
    ids = sb.control.state()["segment"]["spaces"]["spa_demo"]["profiles"][0]["external_ids"]
    assert len(ids) == 5  # the vendor logic never ran


def test_braze_echo_names_every_matching_user_and_deletes_nobody(sb, http):
    sb.control.set_faults("braze", echo_rate=1.0)
    entry = {"email": "dup@example.com", "prioritization": ["identified"]}
    response = http.post(
        f"{sb.urls['braze']}/users/delete", json={"email_addresses": [entry]}, headers=BRAZE_AUTH
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"message", "errors"}
    assert body["message"] == "Invalid request. " + " | ".join(body["errors"])
    assert body["errors"][1].startswith("Headers: ")
    assert BRAZE_AUTH["Authorization"] in body["errors"][1]
    assert body["errors"][2] == 'Body: {"email_addresses":[{"email":"dup@example.com",' + (
        '"prioritization":["identified"]}]}'
    )
    # the phone is not in the request: it is ext_1's, who holds the email
    assert body["errors"][3] == "Phone numbers: " + ", ".join(PHONE_FORMATS)
    assert body["errors"][4].startswith("Profile identifiers: ext_1, ")
    for other in ("dup@example.com", "+15555550100", "jane"):
        assert other in body["errors"][4]
    assert sb.control.pending()["braze"] == []


def test_twilio_echo_uses_its_envelope_and_echo_status(sb, http):
    sb.control.set_faults("twilio_memory", echo_rate=1.0, echo_status=500)
    url = f"{sb.urls['twilio_memory']}/v1/Stores/{STORE}/Profiles/{PROFILE}/Identifiers/email"
    response = http.delete(url, params={"removeAll": "true"}, headers=TWILIO_AUTH)
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == 20500 and body["status"] == 500
    assert TWILIO_AUTH["Authorization"] in body["message"]
    assert "removeAll=true" in body["message"]
    for value in ("old@example.com", "new@example.com", "+15555550101", "(555) 555-0101"):
        assert value in body["message"]
    assert sb.control.pending()["twilio_memory"] == []


def test_insider_echo_holds_the_token_and_the_users_other_identifiers(sb, http):
    sb.control.set_faults("insider", echo_rate=1.0)
    users = [{"identifiers": {"phone_number": "+15555550100"}, "whole": ["name"]}]
    response = http.post(
        f"{sb.urls['insider']}/api/user/v1/attribute/delete",
        json={"users": users},
        headers=INSIDER_AUTH,
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"success", "message"} and body["success"] is False
    assert INSIDER_AUTH["X-REQUEST-TOKEN"] in body["message"]
    for other in ("iid_jane", "jane@example.com", "L-1", *PHONE_FORMATS):
        assert other in body["message"]
    assert sb.control.state()["insider"]["users"][0]["attributes"]["name"] == "Jane"


def test_echo_is_deterministic_under_seed_random(http):
    def run() -> list[tuple[int, str]]:
        with Sandbox(SandboxOptions(seed=SEED, seed_random=11)) as sb:
            sb.control.set_faults("braze", echo_rate=0.5)
            answers = []
            for i in range(16):
                response = http.post(
                    f"{sb.urls['braze']}/users/export/ids",
                    json={"external_ids": [f"ext_{i % 3}"], "fields_to_export": ["email"]},
                    headers=BRAZE_AUTH,
                )
                # the Host header (a free port) is the only part that differs between runs
                host = sb.base_url.removeprefix("http://")
                answers.append((response.status_code, response.text.replace(host, "HOST")))
            return answers

    first, second = run(), run()
    assert first == second
    assert {status for status, _ in first} == {201, 400}


def test_bad_echo_settings_are_refused(sb: Sandbox, http: httpx.Client):
    url = f"{sb.base_url}/_sandbox/faults/braze"
    for fields in (
        {"echo_rate": 1.5},
        {"echo_status": 399},
        {"echo_status": 600},
        {"echo_status": 450.5},
    ):
        assert http.post(url, json=fields).status_code == 400, fields
    assert http.post(url, json={"echo_status": 503}).json()["faults"]["braze"]["echo_status"] == 503

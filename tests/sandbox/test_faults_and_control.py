"""Faults per vendor, determinism, the control endpoint, credentials and the CLI."""

from __future__ import annotations

import time

import httpx
import pytest
from click.testing import CliRunner

from reconciler.sandbox import Sandbox, SandboxOptions
from reconciler.sandbox.command import sandbox as sandbox_command

from .conftest import (
    BRAZE_AUTH,
    INSIDER_AUTH,
    PROFILE,
    SEED,
    SEGMENT_AUTH,
    STORE,
    TWILIO_AUTH,
    TWILIO_SID,
)


def segment_read(sb: Sandbox, http: httpx.Client, timeout: float = 5.0) -> httpx.Response:
    url = (
        f"{sb.urls['segment']}/v1/spaces/spa_demo/collections/users/profiles/"
        "user_id:u_1001/external_ids"
    )
    return http.get(url, headers=SEGMENT_AUTH, timeout=timeout)


def vendor_requests(sb: Sandbox) -> dict[str, tuple[str, str, dict[str, str], object]]:
    return {
        "segment": (
            "GET",
            f"{sb.urls['segment']}/v1/spaces/spa_demo/collections/users/profiles/"
            "user_id:u_1001/external_ids",
            SEGMENT_AUTH,
            None,
        ),
        "braze": ("POST", f"{sb.urls['braze']}/users/delete", BRAZE_AUTH, {"external_ids": ["x"]}),
        "twilio_memory": (
            "GET",
            f"{sb.urls['twilio_memory']}/v1/Stores/{STORE}/Profiles/{PROFILE}/Identifiers",
            TWILIO_AUTH,
            None,
        ),
        "insider": (
            "POST",
            f"{sb.urls['insider']}/api/user/v1/profile",
            INSIDER_AUTH,
            {"insider_id": "iid_jane", "attributes": ["email"]},
        ),
    }


def send(http: httpx.Client, request: tuple[str, str, dict[str, str], object]) -> httpx.Response:
    method, url, headers, body = request
    return http.request(method, url, headers=headers, json=body)


def test_fail_rate_answers_503_in_each_vendors_shape(sb, http):
    sb.control.set_faults("*", fail_rate=1.0)
    bodies = {vendor: send(http, req) for vendor, req in vendor_requests(sb).items()}
    assert {r.status_code for r in bodies.values()} == {503}
    assert bodies["segment"].json()["error"]["code"] == "service_unavailable"
    assert bodies["braze"].json()["message"] == "Service Unavailable"
    assert bodies["twilio_memory"].json()["code"] == 20503
    assert bodies["insider"].json()["success"] is False


def test_throttle_storm_per_vendor_only(sb, http):
    sb.control.set_faults("braze", throttle_rate=1.0)
    requests = vendor_requests(sb)
    storm = send(http, requests["braze"])
    assert storm.status_code == 429
    assert storm.headers["X-RateLimit-Remaining"] == "0"
    assert send(http, requests["segment"]).status_code == 200
    sb.control.set_faults("insider", throttle_rate=1.0)
    assert send(http, requests["insider"]).json() == {"error": "rejected: too many requests"}
    sb.control.set_faults("segment", throttle_rate=1.0)
    assert send(http, requests["segment"]).json()["error"]["code"] == "rate_limit_error"


def test_latency_and_slow_responses(sb, http):
    sb.control.set_faults("segment", latency_ms=150)
    started = time.perf_counter()
    assert segment_read(sb, http).status_code == 200
    assert time.perf_counter() - started >= 0.15
    sb.control.set_faults("segment", latency_ms=0, slow_rate=1.0, slow_ms=2000)
    with pytest.raises(httpx.ReadTimeout):
        segment_read(sb, http, timeout=0.2)


def test_connection_resets(sb):
    sb.control.set_faults("twilio_memory", reset_rate=1.0)
    method, url, headers, _ = vendor_requests(sb)["twilio_memory"]
    with httpx.Client() as client, pytest.raises(httpx.TransportError):
        client.request(method, url, headers=headers)
    (entry,) = sb.control.requests("twilio_memory")
    assert entry["fault"] == "reset" and entry["status"] == 0
    sb.control.set_faults("twilio_memory", reset_rate=0.0)
    with httpx.Client() as client:
        assert send(client, vendor_requests(sb)["twilio_memory"]).status_code == 200


def test_faults_are_deterministic_under_seed_random(http):
    def run() -> list[int]:
        options = SandboxOptions(seed=SEED, seed_random=42, fail_rate=0.5)
        with Sandbox(options) as sb:
            return [segment_read(sb, http).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 503}


def test_bad_fault_settings_are_refused(sb, http):
    response = http.post(f"{sb.base_url}/_sandbox/faults/segment", json={"fail_rate": 2})
    assert response.status_code == 400
    response = http.post(f"{sb.base_url}/_sandbox/faults/nobody", json={"fail_rate": 0.1})
    assert response.status_code == 400


def test_reintroduce_simulates_an_event_replay(sb, http):
    email = {"type": "email", "id": "jane@old-domain.example"}
    url = (
        f"{sb.urls['segment']}/v1/spaces/spa_demo/collections/users/profiles/"
        "user_id:u_1001/external_ids/delete"
    )
    assert (
        http.post(url, json={"delete_external_ids": [email]}, headers=SEGMENT_AUTH).status_code
        == 200
    )
    sb.control.reintroduce(
        {"vendor": "segment", "space_id": "spa_demo", "user_id": "u_1001", **email}
    )
    ids = segment_read(sb, http).json()["data"]
    assert "jane@old-domain.example" in [e["id"] for e in ids]
    twilio = {"vendor": "twilio_memory", "store_id": STORE, "profile_id": PROFILE}
    sb.control.reintroduce(twilio | {"id_type": "email", "value": "again@example.com"})
    for id_type in ("externalId", "Email"):  # not configured for the store (case-sensitive)
        refused = http.post(
            f"{sb.base_url}/_sandbox/reintroduce",
            json=twilio | {"id_type": id_type, "value": "u_1001"},
        )
        assert refused.status_code == 400
        assert "has no identifier config for idType" in refused.json()["error"]
    sb.control.reintroduce({"vendor": "braze", "user": {"external_id": "ext_new"}})
    sb.control.reintroduce(
        {
            "vendor": "insider",
            "locator": {"insider_id": "iid_solo"},
            "identifier": {"type": "uuid", "value": "u-solo"},
        }
    )
    state = sb.control.state()
    assert state["twilio_memory"]["stores"][STORE]["profiles"][PROFILE]["identifiers"]["email"] == [
        "old@example.com",
        "new@example.com",
        "again@example.com",
    ]
    assert state["braze"]["users"][-1]["external_id"] == "ext_new"
    assert state["insider"]["users"][1]["identifiers"] == {
        "email": "solo@example.com",
        "uuid": "u-solo",
    }


def test_unknown_vendor_paths_are_logged_as_violations(sb, http):
    response = http.get(f"{sb.urls['braze']}/users/track", headers=BRAZE_AUTH)
    assert response.status_code == 404
    (entry,) = sb.control.requests("braze")
    assert entry["violations"][0]["rule"] == "braze.route"


def test_pinned_credentials(tmp_path, http):
    creds = tmp_path / "creds.yaml"
    creds.write_text(
        f"segment: {{tokens: [good]}}\ntwilio_memory: {{accounts: {{{TWILIO_SID}: s3cret}}}}\n"
        "insider: {partners: {mybrand: tok}}\n"
    )
    with Sandbox(SandboxOptions(seed=SEED, credentials=creds)) as sb:
        requests = vendor_requests(sb)
        assert send(http, requests["segment"]).status_code == 401
        assert send(http, requests["twilio_memory"]).status_code == 401
        assert send(http, requests["insider"]).status_code == 403
        ok = http.get(requests["twilio_memory"][1], auth=(TWILIO_SID, "s3cret"))
        assert ok.status_code == 200


def test_cli_refuses_non_loopback_hosts():
    result = CliRunner().invoke(sandbox_command, ["--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code != 0
    assert "loopback" in result.output


def test_subprocess_mode_serves_the_cli(http):
    with Sandbox(SandboxOptions(seed=SEED), in_subprocess=True) as sb:
        assert sb.urls["segment"].startswith("http://127.0.0.1:")
        assert segment_read(sb, http).status_code == 200


def test_example_seed_loads_and_json_seeds_work(tmp_path, http):
    import json
    from pathlib import Path

    import reconciler.sandbox

    example = Path(reconciler.sandbox.__file__).parent / "example_seed.yaml"
    seed_json = tmp_path / "seed.json"
    seed_json.write_text(json.dumps(SEED))
    for seed in (example, seed_json):
        with Sandbox(SandboxOptions(seed=seed)) as sb:
            state = sb.control.state()
            assert state["segment"]["spaces"] and state["twilio_memory"]["stores"]


def test_a_malformed_seed_is_refused():
    from reconciler.sandbox.seed import SeedError, state_from_seed

    with pytest.raises(SeedError):
        state_from_seed({"salesforce": {}})
    with pytest.raises(SeedError):
        state_from_seed({"segment": {"spaces": {"s": {"profiles": [{"external_ids": []}]}}}})

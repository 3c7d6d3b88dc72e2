"""Braze: /users/delete and /users/export/ids rules, limits and headers."""

from __future__ import annotations

import time
from typing import Any

import httpx

from reconciler.sandbox import Sandbox, SandboxOptions

from .conftest import BRAZE_AUTH, SEED

ONE_TYPE = (
    "Only one of external_ids, user_aliases, braze_ids, email_addresses, "
    "or phone_numbers can be included in a single request."
)


def delete(
    sb: Sandbox, http: httpx.Client, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return http.post(
        f"{sb.urls['braze']}/users/delete",
        json=body,
        headers=BRAZE_AUTH if headers is None else headers,
    )


def export(sb: Sandbox, http: httpx.Client, body: Any) -> httpx.Response:
    return http.post(f"{sb.urls['braze']}/users/export/ids", json=body, headers=BRAZE_AUTH)


def fatal(message: str) -> dict[str, Any]:
    return {"message": message, "errors": [message]}


def test_delete_by_external_id_is_queued_then_export_reports_it_invalid(sb, http):
    response = delete(sb, http, {"external_ids": ["ext_1", "ext_unknown"]})
    assert response.status_code == 201
    assert response.json() == {"deleted": 1, "message": "success"}
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[header].isdigit()
    assert response.headers["X-RateLimit-Limit"] == "20000"
    both = {"external_ids": ["ext_1", "ext_2"], "fields_to_export": ["external_id"]}
    queued = export(sb, http, both)  # the deletion is queued: ext_1 is still there
    assert queued.status_code == 201
    assert queued.json() == {
        "message": "success",
        "users": [{"external_id": "ext_1"}, {"external_id": "ext_2"}],
    }
    (pending,) = sb.control.pending()["braze"]
    assert pending["external_id"] == "ext_1" and pending["due"] > time.time()
    time.sleep(0.3)  # the session sandbox's --braze-removal-delay is 0.2 s
    body = export(sb, http, both)
    assert body.status_code == 201
    assert body.json() == {
        "message": "success",
        "users": [{"external_id": "ext_2"}],
        "invalid_user_ids": ["ext_1"],
    }
    assert sb.control.pending()["braze"] == []
    assert "ext_1" not in [u.get("external_id") for u in sb.control.state()["braze"]["users"]]


def test_settle_applies_queued_deletions_at_once(sb, http):
    assert delete(sb, http, {"braze_ids": ["b_2"]}).json() == {"deleted": 1, "message": "success"}
    response = http.post(f"{sb.base_url}/_sandbox/settle")
    assert response.json() == {"applied": 1, "braze": 1, "twilio_memory": 0}
    body = export(sb, http, {"external_ids": ["ext_2"], "fields_to_export": ["external_id"]})
    assert body.json() == {"message": "success", "users": [], "invalid_user_ids": ["ext_2"]}


def test_a_queued_user_is_not_deleted_again_and_a_resent_email_delete_takes_the_next(sb, http):
    assert delete(sb, http, {"external_ids": ["ext_1"]}).json()["deleted"] == 1
    assert delete(sb, http, {"external_ids": ["ext_1"]}).json()["deleted"] == 0
    newest = {"email": "dup@example.com", "prioritization": ["most_recently_updated"]}
    assert delete(sb, http, {"email_addresses": [newest]}).json()["deleted"] == 1
    assert delete(sb, http, {"email_addresses": [newest]}).json()["deleted"] == 1  # the next
    assert delete(sb, http, {"email_addresses": [newest]}).json()["deleted"] == 0
    assert len(sb.control.pending()["braze"]) == 3
    found = export(sb, http, {"email_address": "dup@example.com", "fields_to_export": ["email"]})
    assert len(found.json()["users"]) == 3  # all queued, none applied yet


def test_an_email_matching_several_users_deletes_nobody(sb, http):
    ambiguous = {"email": "dup@example.com", "prioritization": ["unidentified"]}
    response = delete(sb, http, {"email_addresses": [ambiguous]})
    assert response.status_code == 201
    assert response.json() == {"deleted": 0, "message": "success"}
    unique = {"email": "solo@example.com", "prioritization": ["unidentified"]}
    mixed = delete(sb, http, {"email_addresses": [ambiguous, unique]})
    assert mixed.json() == {"deleted": 1, "message": "success"}
    (pending,) = sb.control.pending()["braze"]
    sb.control.settle()
    emails = [u.get("email") for u in sb.control.state()["braze"]["users"]]
    assert emails.count("dup@example.com") == 3 and "solo@example.com" not in emails
    assert pending["external_id"] is None


def test_prioritization_ties_delete_nobody(http):
    seed = {
        "braze": {
            "users": [
                {
                    "external_id": "a",
                    "email": "tie@example.com",
                    "updated_at": "2026-05-01T00:00:00Z",
                },
                {
                    "external_id": "b",
                    "email": "tie@example.com",
                    "updated_at": "2026-05-01T00:00:00Z",
                },
                {"phone": "+15555550111"},
                {"phone": "+15555550111"},
            ]
        }
    }
    with Sandbox(SandboxOptions(seed=seed)) as tied:
        for entry in (
            {"email": "tie@example.com", "prioritization": ["identified"]},
            {"email": "tie@example.com", "prioritization": ["identified", "most_recently_updated"]},
            {"email": "tie@example.com", "prioritization": ["unidentified"]},  # nobody matches
        ):
            response = delete(tied, http, {"email_addresses": [entry]})
            assert response.json() == {"deleted": 0, "message": "success"}, entry
        phone = {
            "phone": "+15555550111",
            "prioritization": ["unidentified", "most_recently_updated"],
        }
        assert delete(tied, http, {"phone_numbers": [phone]}).json()["deleted"] == 0
        assert tied.control.pending()["braze"] == []
        assert len(tied.control.state()["braze"]["users"]) == 4


def test_the_removal_delay_is_a_cli_option(http):
    with Sandbox(SandboxOptions(seed=SEED, braze_removal_delay=0), in_subprocess=True) as fast:
        assert delete(fast, http, {"external_ids": ["ext_1"]}).json()["deleted"] == 1
        body = export(fast, http, {"external_ids": ["ext_1"], "fields_to_export": ["email"]})
        assert body.json()["invalid_user_ids"] == ["ext_1"]
    with Sandbox(SandboxOptions(seed=SEED), in_subprocess=True) as default:
        assert delete(default, http, {"external_ids": ["ext_1"]}).json()["deleted"] == 1
        body = export(default, http, {"external_ids": ["ext_1"], "fields_to_export": ["email"]})
        assert "invalid_user_ids" not in body.json()  # the default delay is 1 s


def test_other_identifier_types(sb, http):
    assert delete(sb, http, {"braze_ids": ["b_2"]}).json()["deleted"] == 1
    alias = {"alias_name": "jane", "alias_label": "crm"}
    assert delete(sb, http, {"user_aliases": [alias]}).json()["deleted"] == 1
    assert delete(sb, http, {"user_aliases": [alias]}).json()["deleted"] == 0


def test_auth_is_bearer(sb, http):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        response = delete(sb, http, {"external_ids": ["ext_1"]}, headers=headers)
        assert response.status_code == 401
        assert response.json() == fatal("Invalid API key")


def test_one_identifier_type_per_request(sb, http):
    response = delete(sb, http, {"external_ids": ["ext_1"], "braze_ids": ["b_2"]})
    assert response.status_code == 400
    assert response.json() == fatal(ONE_TYPE)
    assert delete(sb, http, {}).json() == fatal(ONE_TYPE)


def test_at_most_fifty_ids(sb, http):
    response = delete(sb, http, {"external_ids": [f"e{i}" for i in range(51)]})
    assert response.status_code == 400
    assert response.json() == fatal(
        "The max number of external_ids and aliases per request was exceeded"
    )
    response = delete(sb, http, {"braze_ids": [f"b{i}" for i in range(51)]})
    assert response.status_code == 400
    assert response.json() == fatal("The max number of ids per request was exceeded")
    assert delete(sb, http, {"external_ids": [f"e{i}" for i in range(50)]}).status_code == 201


def test_email_and_phone_need_valid_prioritization(sb, http):
    bad_entries = [
        {"email_addresses": ["dup@example.com"]},
        {"email_addresses": [{"email": "dup@example.com"}]},
        {"email_addresses": [{"email": "dup@example.com", "prioritization": ["newest"]}]},
        {
            "email_addresses": [
                {"email": "dup@example.com", "prioritization": ["identified", "unidentified"]}
            ]
        },
        {"phone_numbers": [{"phone": "+15555550100", "prioritization": []}]},
        {"phone_numbers": ["+15555550100"]},
    ]
    for body in bad_entries:
        response = delete(sb, http, body)
        assert response.status_code == 400, body
        assert response.json()["message"].startswith(next(iter(body)) + "[0]: ")
    entry = sb.control.requests("braze")[3]
    assert entry["violations"][0]["rule"] == "braze.prioritization"
    assert sb.control.state()["braze"]["users"][0]["external_id"] == "ext_1"  # nothing deleted


def test_prioritization_picks_one_user_or_none(sb, http):
    def by_email(*prioritization: str) -> int:
        entry = {"email": "dup@example.com", "prioritization": list(prioritization)}
        return delete(sb, http, {"email_addresses": [entry]}).json()["deleted"]

    assert by_email("unidentified") == 0  # two anonymous users match: nothing is deleted
    assert by_email("unidentified", "most_recently_updated") == 1  # the 2026-03 one
    assert by_email("identified") == 1  # ext_1
    assert by_email("most_recently_updated") == 1  # the one left
    assert by_email("most_recently_updated") == 0
    phone = {"phone": "+15555550199", "prioritization": ["identified"]}
    assert delete(sb, http, {"phone_numbers": [phone]}).json()["deleted"] == 1


def test_rate_limits_answer_429_with_headers(limited, http):
    limited.control.reset()
    responses = [delete(limited, http, {"external_ids": ["nobody"]}) for _ in range(5)]
    throttled = [r for r in responses if r.status_code == 429]
    assert len(throttled) >= 1  # 20,000/min scaled by 1/10,000 = 2 per minute
    assert throttled[-1].json() == fatal("Rate Limited")
    assert throttled[-1].headers["X-RateLimit-Remaining"] == "0"
    assert int(throttled[-1].headers["X-RateLimit-Reset"]) > 0
    # /users/export/ids has its own bucket (250/min, here 1 per minute)
    body = {"external_ids": ["x"], "fields_to_export": ["external_id"]}
    statuses = [export(limited, http, body).status_code for _ in range(3)]
    assert statuses.count(429) >= 1 and statuses[0] == 201


def test_export_rules(sb, http):
    response = export(sb, http, {"external_ids": ["ext_1"]})
    assert response.status_code == 400
    assert response.json() == fatal("fields_to_export is a required array of strings")
    too_many = export(
        sb,
        http,
        {
            "external_ids": [f"e{i}" for i in range(30)],
            "user_aliases": [{"alias_name": f"a{i}", "alias_label": "l"} for i in range(21)],
            "fields_to_export": ["email"],
        },
    )
    assert too_many.json() == fatal(
        "The max number of external_ids and aliases per request was exceeded"
    )
    two = export(
        sb, http, {"email_address": "a@b.c", "phone": "+15555550100", "fields_to_export": ["email"]}
    )
    assert two.json() == fatal("only one of device_id, email_address or phone")
    found = export(
        sb, http, {"phone": "+15555550100", "fields_to_export": ["external_id", "phone"]}
    )
    assert found.json() == {
        "message": "success",
        "users": [{"external_id": "ext_1", "phone": "+15555550100"}],
    }


def test_pinned_keys_and_permissions(tmp_path, http):
    creds = tmp_path / "creds.yaml"
    creds.write_text(
        "braze:\n  api_keys:\n    good: [users.delete, users.export.ids]\n"
        "    reader: [users.export.ids]\n"
    )
    with Sandbox(SandboxOptions(seed=SEED, credentials=creds)) as sb:
        url = f"{sb.urls['braze']}/users/delete"
        body = {"external_ids": ["ext_1"]}
        wrong = http.post(url, json=body, headers={"Authorization": "Bearer other"})
        assert wrong.status_code == 401
        reader = http.post(url, json=body, headers={"Authorization": "Bearer reader"})
        assert reader.status_code == 403
        assert reader.json() == fatal("Access Denied")
        assert (
            http.post(url, json=body, headers={"Authorization": "Bearer good"}).status_code == 201
        )

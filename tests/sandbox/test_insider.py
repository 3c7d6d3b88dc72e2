"""Insider: attribute delete, identity delete and profile read rules."""

from __future__ import annotations

import json
from typing import Any

import httpx

from reconciler.sandbox import Sandbox, SandboxOptions

from .conftest import INSIDER_AUTH, SEED

ACCESS_DENIED = {
    "success": False,
    "message": "Access Denied. You do not have sufficient access to perform this action.",
}


def call(
    sb: Sandbox,
    http: httpx.Client,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return http.request(
        method,
        f"{sb.urls['insider']}/api/user/v1/{path}",
        json=body,
        headers=INSIDER_AUTH if headers is None else headers,
    )


def profile(
    sb: Sandbox, http: httpx.Client, identifiers: dict[str, Any], *attrs: str
) -> httpx.Response:
    return call(
        sb, http, "POST", "profile", {"identifiers": identifiers, "attributes": list(attrs)}
    )


def test_attribute_delete_whole_partial_and_custom(sb, http):
    body = {
        "users": [
            {
                "identifiers": {"email": "jane@example.com"},
                "whole": ["surname"],
                "partial": {"list_id": [2]},
                "custom": {"whole": ["tier"], "partial": {"interests": ["golf"]}},
            }
        ]
    }
    response = call(sb, http, "POST", "attribute/delete", body)
    assert response.status_code == 200
    assert response.json() == {}
    read = profile(
        sb,
        http,
        {"email": "jane@example.com"},
        "name",
        "surname",
        "list_id",
        "c_tier",
        "c_interests",
    )
    assert read.json() == {
        "attributes": {
            "name": "Jane",
            "list_id": [1, 3],
            "c_interests": ["tennis"],
            "iid": "iid_jane",
        },
        "events": {},
    }
    by_id = call(
        sb,
        http,
        "POST",
        "attribute/delete",
        {"users": [{"insider_id": "iid_jane", "whole": ["name"]}]},
    )
    assert by_id.status_code == 200
    assert (
        "name" not in profile(sb, http, {"email": "jane@example.com"}, "name").json()["attributes"]
    )


def test_partner_name_must_be_lowercase(sb, http):
    for partner in ("MyBrand", ""):
        headers = {"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": "t"}
        response = call(sb, http, "POST", "attribute/delete", {"users": []}, headers=headers)
        assert response.status_code == 400
        assert response.json() == {"success": False, "message": "Partner is invalid."}


def test_token_is_required(sb, http):
    response = call(
        sb, http, "POST", "attribute/delete", {"users": []}, headers={"X-PARTNER-NAME": "mybrand"}
    )
    assert response.status_code == 403
    assert response.json() == ACCESS_DENIED


def test_at_most_a_thousand_users_and_five_megabytes(sb, http):
    user = {"identifiers": {"uuid": "u"}, "whole": ["name"]}
    response = call(sb, http, "POST", "attribute/delete", {"users": [user] * 1001})
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "A single request can pass a maximum of 1,000 records (users).",
    }
    big = {"users": [{"identifiers": {"uuid": "u"}, "whole": ["x" * 6_000]}] * 1000}
    response = call(sb, http, "POST", "attribute/delete", big)
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "The entire request must not exceed 5 MB.",
    }


def padded(body: Any, size: int) -> bytes:
    """``body`` as JSON, padded with trailing spaces (still valid JSON) to ``size`` bytes."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def test_the_size_limit_is_exactly_five_million_bytes(sb, http):
    body = {"users": [{"identifiers": {"email": "jane@example.com"}, "whole": ["surname"]}]}
    url = f"{sb.urls['insider']}/api/user/v1/attribute/delete"
    headers = INSIDER_AUTH | {"Content-Type": "application/json"}
    at_limit = http.post(url, content=padded(body, 5_000_000), headers=headers)
    assert at_limit.status_code == 200
    assert at_limit.json() == {}
    over = http.post(url, content=padded(body, 5_000_001), headers=headers)
    assert over.status_code == 400
    assert over.json() == {"success": False, "message": "The entire request must not exceed 5 MB."}
    assert "surname" not in sb.control.state()["insider"]["users"][0]["attributes"]


def test_partial_deletes_compare_values_with_their_json_type(sb, http):
    def delete_from_list_id(*values: Any) -> list[Any]:
        user = {"insider_id": "iid_jane", "partial": {"list_id": list(values)}}
        response = call(sb, http, "POST", "attribute/delete", {"users": [user]})
        assert response.status_code == 200
        assert response.json() == {}
        return list(sb.control.state()["insider"]["users"][0]["attributes"]["list_id"])

    assert delete_from_list_id("2", "3") == [1, 2, 3]  # strings are not numbers: 200, no-op
    assert delete_from_list_id(True) == [1, 2, 3]  # true is not 1 in JSON
    assert delete_from_list_id(2) == [1, 3]
    assert delete_from_list_id(3.0) == [1]  # the same JSON number
    user = {"insider_id": "iid_jane", "custom": {"partial": {"interests": [1, "tennis"]}}}
    assert call(sb, http, "POST", "attribute/delete", {"users": [user]}).status_code == 200
    assert sb.control.state()["insider"]["users"][0]["custom_attributes"]["interests"] == ["golf"]


def test_an_unknown_partner_is_invalid_when_partners_are_pinned(tmp_path, http):
    creds = tmp_path / "creds.yaml"
    creds.write_text("insider: {partners: {mybrand: tok}}\n")
    with Sandbox(SandboxOptions(seed=SEED, credentials=creds)) as pinned:
        body = {"insider_id": "iid_jane", "attributes": ["email"]}
        for partner, token in (("otherbrand", "tok"), ("otherbrand", "")):
            headers = {"X-PARTNER-NAME": partner, "X-REQUEST-TOKEN": token}
            response = call(pinned, http, "POST", "profile", body, headers=headers)
            assert response.status_code == 400
            assert response.json() == {"success": False, "message": "Partner is invalid."}
        wrong = {"X-PARTNER-NAME": "mybrand", "X-REQUEST-TOKEN": "other"}
        response = call(pinned, http, "POST", "profile", body, headers=wrong)
        assert response.status_code == 403
        assert response.json() == ACCESS_DENIED
        right = {"X-PARTNER-NAME": "mybrand", "X-REQUEST-TOKEN": "tok"}
        assert call(pinned, http, "POST", "profile", body, headers=right).status_code == 200


def test_identifier_attributes_cannot_be_deleted_here(sb, http):
    for user in (
        {"identifiers": {"uuid": "u"}, "whole": ["email"]},
        {"insider_id": "iid_jane", "custom": {"whole": ["loyalty_id"]}},
    ):
        response = call(sb, http, "POST", "attribute/delete", {"users": [user]})
        assert response.status_code == 400
        assert response.json()["success"] is False
        assert "Delete Identifiers API" in response.json()["message"]


def test_phone_numbers_are_e164(sb, http):
    user = {"identifiers": {"phone_number": "5555550100"}, "whole": ["name"]}
    response = call(sb, http, "POST", "attribute/delete", {"users": [user]})
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "users[0]: phone_number must be in E.164 format",
    }


def test_identity_delete_and_the_sole_identifier(sb, http):
    response = call(
        sb, http, "DELETE", "identity", {"identifiers": {"phone_number": "+15555550100"}}
    )
    assert response.status_code == 200
    gone = profile(sb, http, {"phone_number": "+15555550100"}, "email")
    assert gone.status_code == 404
    assert gone.json() == {"error": "no such user for these identifiers: no data"}
    custom = call(
        sb, http, "DELETE", "identity", {"identifiers": {"custom": {"loyalty_id": "L-1"}}}
    )
    assert custom.status_code == 200
    sole = call(sb, http, "DELETE", "identity", {"identifiers": {"email": "jane@example.com"}})
    assert sole.status_code == 400
    assert sole.json() == {
        "error": "you cannot delete the sole identifier specified for a user: bad request"
    }
    solo = call(sb, http, "DELETE", "identity", {"identifiers": {"email": "solo@example.com"}})
    assert solo.status_code == 400


def test_identity_delete_is_one_user_one_identifier(sb, http):
    two = {"identifiers": {"email": "jane@example.com", "phone_number": "+15555550100"}}
    response = call(sb, http, "DELETE", "identity", two)
    assert response.status_code == 400
    assert response.json()["error"].endswith(": bad request")


def test_profile_read_needs_attributes_or_events(sb, http):
    response = call(sb, http, "POST", "profile", {"identifiers": {"email": "jane@example.com"}})
    assert response.status_code == 400
    quota = call(
        sb,
        http,
        "POST",
        "profile",
        {"insider_id": "iid_jane", "attributes": ["email"], "quota": True},
    )
    assert quota.json()["quota"] == {"cost": 1, "used": 1, "total": 1000}
    assert quota.json()["attributes"] == {"email": "jane@example.com", "iid": "iid_jane"}


def test_rate_limits_answer_the_documented_429(limited, http):
    limited.control.reset()
    user = {"users": [{"identifiers": {"uuid": "u"}, "whole": ["name"]}]}
    statuses = [call(limited, http, "POST", "attribute/delete", user).status_code for _ in range(6)]
    assert statuses.count(429) >= 2  # 25,000/min scaled by 1/10,000 = 2 per minute
    response = call(limited, http, "POST", "attribute/delete", user)
    assert response.json() == {"error": "rejected: too many requests"}
    # Identity deletes have their own, stricter bucket (1,000/min, here 1 per minute).
    body = {"identifiers": {"email": "nobody@example.com"}}
    statuses = [call(limited, http, "DELETE", "identity", body).status_code for _ in range(3)]
    assert statuses.count(429) >= 1

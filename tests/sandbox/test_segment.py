"""Segment: every documented rule of the Delete Profile Identifier API and the read."""

from __future__ import annotations

import httpx

from reconciler.sandbox import Sandbox

from .conftest import SEGMENT_AUTH, basic

PROFILES = "/v1/spaces/{space}/collections/users/profiles"


def delete(
    sb: Sandbox,
    http: httpx.Client,
    lookup: str,
    ids: list[dict[str, str]],
    space: str = "spa_demo",
    headers: dict[str, str] | None = None,
    collection: str = "users",
) -> httpx.Response:
    url = (
        f"{sb.urls['segment']}/v1/spaces/{space}/collections/{collection}"
        f"/profiles/{lookup}/external_ids/delete"
    )
    return http.post(
        url, json={"delete_external_ids": ids}, headers=SEGMENT_AUTH if headers is None else headers
    )


def read(sb: Sandbox, http: httpx.Client, lookup: str, **params: str) -> httpx.Response:
    url = f"{sb.urls['segment']}{PROFILES.format(space='spa_demo')}/{lookup}/external_ids"
    return http.get(url, params=params, headers=SEGMENT_AUTH)


def error(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def test_delete_removes_the_identifier_and_reads_reflect_it(sb, http):
    email = {"type": "email", "id": "jane@old-domain.example"}
    response = delete(sb, http, "user_id:u_1001", [email])
    assert response.status_code == 200
    assert response.json() == {
        "code": "success",
        "message": "External identifier has been deleted.",
    }
    assert response.headers["Request-Id"]
    ids = read(sb, http, "user_id:u_1001").json()["data"]
    assert ("email", "jane@old-domain.example") not in {(e["type"], e["id"]) for e in ids}
    again = delete(sb, http, "user_id:u_1001", [email])
    assert again.status_code == 404
    assert again.json() == error("eid_not_found", "External identifier not found.")


def test_auth_is_basic_with_token_user_and_empty_password(sb, http):
    email = [{"type": "email", "id": "jane@example.com"}]
    unauthorized = error("unauthorized", "The specified token is invalid.")
    for headers in ({}, {"Authorization": "Bearer x"}, basic("tok", "secret"), basic("", "")):
        response = delete(sb, http, "user_id:u_1001", email, headers=headers)
        assert response.status_code == 401
        assert response.json() == unauthorized


def test_one_identifier_per_request(sb, http):
    two = [{"type": "email", "id": "jane@example.com"}, {"type": "anonymous_id", "id": "a-1"}]
    for ids in (two, []):
        response = delete(sb, http, "user_id:u_1001", ids)
        assert response.status_code == 400
        assert response.json() == error(
            "bad_request", "Only one external_id can be deleted at a time."
        )


def test_group_id_is_refused(sb, http):
    response = delete(sb, http, "user_id:u_1001", [{"type": "group_id", "id": "g-1"}])
    assert response.status_code == 400
    assert response.json() == error("unsupported_eid_type", "Unsupported external id type.")


def test_profiles_are_located_by_user_id_only(sb, http):
    response = delete(sb, http, "email:jane@example.com", [{"type": "anonymous_id", "id": "a-1"}])
    assert response.status_code == 400
    assert response.json() == error("bad_request", "Invalid URL: valid `user_id` is required.")
    missing = delete(sb, http, "u_1001", [{"type": "anonymous_id", "id": "a-1"}])
    assert missing.json() == error("bad_request", "Missing required parameters in URL.")


def test_the_lookup_user_id_and_the_last_user_id_stay(sb, http):
    response = delete(sb, http, "user_id:u_1001", [{"type": "user_id", "id": "u_1001"}])
    assert response.status_code == 400
    assert response.json() == error(
        "bad_request", "External id specification must differ from lookup id."
    )
    # A second user_id may go, as long as one remains.
    legacy = delete(sb, http, "user_id:u_2001", [{"type": "user_id", "id": "u_2001_legacy"}])
    assert legacy.status_code == 200


def test_unknown_profile_space_and_collection(sb, http):
    email = [{"type": "email", "id": "x@example.com"}]
    response = delete(sb, http, "user_id:nobody", email)
    assert response.status_code == 404
    assert response.json() == error("not_found", "The resource was not found.")
    response = delete(sb, http, "user_id:u_1", email, space="spa_nosource")
    assert response.status_code == 404
    assert response.json() == error(
        "source_id_not_found", "No source attached to space_id `spa_nosource`."
    )
    response = delete(sb, http, "user_id:u_9", email, space="spa_off")
    assert response.status_code == 403
    assert response.json() == error(
        "forbidden", "Deleted identifier not activated for space_id `spa_off`."
    )
    response = delete(sb, http, "user_id:u_1001", email, collection="accounts")
    assert response.status_code == 400
    assert response.json() == error("bad_request", "Invalid collection: `accounts`.")


def test_rate_limit_is_per_space(limited, http):
    limited.control.reset()
    statuses = [
        delete(
            limited, http, "user_id:u_1001", [{"type": "email", "id": "nope@example.com"}]
        ).status_code
        for _ in range(6)
    ]
    assert statuses.count(429) >= 4  # 1 request/s at this scale; a window edge allows 2
    last = delete(limited, http, "user_id:u_1001", [{"type": "email", "id": "nope@example.com"}])
    assert last.status_code == 429
    assert last.json() == error(
        "rate_limit_error", "Attempted to delete more than 100 IDs per second for a single profile."
    )
    # Reads share the space's bucket (the stricter reading of the docs).
    url = (
        f"{limited.urls['segment']}{PROFILES.format(space='spa_demo')}/user_id:u_1001/external_ids"
    )
    assert http.get(url, headers=SEGMENT_AUTH).status_code == 429


def test_read_envelope_cursor_and_not_found(sb, http):
    first = read(sb, http, "user_id:u_1001", limit="2")
    body = first.json()
    assert first.status_code == 200
    assert [e["id"] for e in body["data"]] == ["u_1001", "jane@old-domain.example"]
    assert set(body["data"][0]) == {
        "source_id",
        "collection",
        "id",
        "type",
        "created_at",
        "encoding",
        "first_message_id",
    }
    assert body["cursor"]["has_more"] is True
    assert (
        body["cursor"]["url"]
        == "/v1/spaces/spa_demo/collections/users/profiles/user_id:u_1001/external_ids"
    )
    second = read(sb, http, "user_id:u_1001", limit="2", next=body["cursor"]["next"]).json()
    assert [e["id"] for e in second["data"]] == ["jane@example.com", "a-1"]
    only = read(sb, http, "email:jane@example.com", include="user_id").json()
    assert [e["id"] for e in only["data"]] == ["u_1001"]
    missing = read(sb, http, "user_id:nobody")
    assert missing.status_code == 404
    assert missing.json() == error("not_found", "Profile was not found.")
    bad_limit = read(sb, http, "user_id:u_1001", limit="101")
    assert bad_limit.status_code == 400
    assert bad_limit.json()["error"]["code"] == "validation_error"


def test_request_log_lists_every_rule_broken(sb, http):
    profiles = f"{sb.urls['segment']}/v1/spaces/spa_demo/collections/users/profiles"
    url = f"{profiles}/email:x/external_ids/delete"
    http.post(url, content=b"{}", headers=SEGMENT_AUTH)  # no content type, bad lookup, no ids
    (entry,) = sb.control.requests(vendor="segment")
    rules = [v["rule"] for v in entry["violations"]]
    assert rules == ["segment.lookup_user_id", "segment.content_type", "segment.one_identifier"]
    assert entry["status"] == 400

"""The plugin's own rules beyond the kit: ids, the canonical subject, request bodies,
auth, signature notes, and `encoded_request` never kept."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from opendsr_cases import CASES, ENTRIES, SETTINGS, created, request_id
from reconciler_opendsr import VENDOR
from reconciler_opendsr.answers import signature_note
from reconciler_opendsr.ids import subject_request_id
from reconciler_opendsr.rules import utc_time

from reconciler.desired import Item
from reconciler.evidence import Answer
from reconciler.target import Target
from reconciler.testing import json_answer
from reconciler.testing.answers import response
from reconciler.testing.subject import Subject
from reconciler.testing.wire import run_engine

TARGET = Target("conformance", "opendsr", SETTINGS["base_url"], {"vendor": "opendsr", **SETTINGS})


def items_of(
    entry: dict[str, Any], settings: dict[str, Any] | None = None
) -> tuple[list[Item], list[str]]:
    problems: list[str] = []
    rules = VENDOR.rules.for_target(settings or TARGET.settings)
    made = rules.items("conformance", entry, lambda p, m: problems.append(f"{p}: {m}"))
    return made, problems


def test_the_request_id_is_a_lowercase_uuid4_that_only_the_item_decides() -> None:
    rid = request_id("email")
    parsed = uuid.UUID(rid)
    assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and rid == rid.lower()
    assert request_id("email") == rid  # the same item, the same id: a re-send is the same
    assert request_id("several") != rid
    (item,) = items_of(ENTRIES["email"])[0]
    later = Item(item.target, item.vendor, item.locator, {**item.removal, "submitted_time": "x"})
    renamed = Item("other-target", item.vendor, item.locator, item.removal)
    assert len({subject_request_id(i) for i in (item, later, renamed)}) == 3


def test_a_subject_is_a_set_of_identities_in_one_canonical_form() -> None:
    a = {
        "identities": {"email": "a1@x.example", "controller_customer_id": "c-1"},
        "submitted_time": "2024-05-01T12:00:00+02:00",
    }
    b = {
        "submitted_time": "2024-05-01t10:00:00z",
        "identities": {"controller_customer_id": "c-1", "email": "a1@x.example"},
    }
    (ia,), (ib,) = items_of(a)[0], items_of(b)[0]
    assert ia.canonical() == ib.canonical()
    assert ia.removal == {"kind": "profile", "submitted_time": "2024-05-01T10:00:00Z"}
    assert ia.irreversible_profile_deletion


@pytest.mark.parametrize(
    ("given", "utc"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
        ("2024-05-01T10:00:00.250+00:00", "2024-05-01T10:00:00.25Z"),
        ("2024-05-01T00:30:00-01:00", "2024-05-01T01:30:00Z"),
        ("2024-05-01", None),
        ("2024-05-01T10:00:00", None),  # no zone
        ("2024-13-01T10:00:00Z", None),
        ("yesterday", None),
        (12, None),
    ],
)
def test_submitted_time_is_rfc3339_with_a_zone(given: Any, utc: str | None) -> None:
    assert utc_time(given) == utc


def test_the_rules_refuse_what_is_not_a_subject() -> None:
    assert items_of({"identities": {}, "submitted_time": "2024-05-01T10:00:00Z"})[1]
    _, unknown = items_of(
        {"identities": {"mpid": "1"}, "submitted_time": "2024-05-01T10:00:00Z"},
        {"vendor": "opendsr"},
    )
    assert any("not an OpenDSR identity type" in p for p in unknown)
    _, extra = items_of(
        {
            "identities": {"email": "a@b.example"},
            "submitted_time": "2024-05-01T10:00:00Z",
            "profile": {"user_id": "u"},
        }
    )
    assert any("not supported for opendsr targets" in p for p in extra)
    problems: list[str] = []
    VENDOR.rules.check_spec({"target": "t"}, lambda p, m: problems.append(m))
    assert problems and "delete_profiles: true" in problems[0]


def test_the_request_body_is_the_standards_shape() -> None:
    (item,) = items_of(ENTRIES["several"])[0]
    request = VENDOR.requests.build(TARGET, [item])
    assert (request.method, request.path, request.idempotent) == (
        "POST",
        "/opencompliance_requests",
        True,
    )
    assert request.body == {
        "regulation": "gdpr",
        "subject_request_id": subject_request_id(item),
        "subject_request_type": "erasure",
        "subject_identities": [
            {
                "identity_type": "controller_customer_id",
                "identity_value": "cust-conformance-1002",
                "identity_format": "raw",
            },
            {
                "identity_type": "email",
                "identity_value": "omar.conformance@old-domain.example",
                "identity_format": "raw",
            },
            {
                "identity_type": "ios_advertising_id",
                "identity_value": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
                "identity_format": "raw",
            },
        ],
        "submitted_time": "2024-05-02T07:30:00Z",
    }
    mparticle = Target(
        "m",
        "opendsr",
        "https://opendsr.mparticle.com/v3",
        {**TARGET.settings, "requests_path": "/requests", "regulation": "ccpa"},
    )
    other = VENDOR.requests.build(mparticle, [item])
    assert other.path == "/requests" and other.body["regulation"] == "ccpa"
    assert other.body["subject_request_id"] == request.body["subject_request_id"]


def test_auth_is_the_targets_choice() -> None:
    basic = VENDOR.requests.auth_headers(TARGET, {"credentials_env": "key-1:secret:with:colons"})
    token = basic["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(token).decode() == "key-1:secret:with:colons"
    bearer_target = Target("b", "opendsr", TARGET.base_url, {**TARGET.settings, "auth": "bearer"})
    assert VENDOR.requests.auth_headers(bearer_target, {"credentials_env": "tok-9"}) == {
        "Authorization": "Bearer tok-9"
    }


def test_the_signature_headers_are_noted_whatever_their_prefix() -> None:
    standard = json_answer(
        201, {}, x_opencompliance_processor_domain="p.example", x_opencompliance_signature="c2ln"
    )
    assert signature_note(standard) == (
        "processor domain p.example; signed (X-OpenCompliance-Signature, not verified)"
    )
    older = json_answer(201, {}, x_opengdpr_processor_domain="p.example")
    assert signature_note(older) == "processor domain p.example; unsigned"
    assert signature_note(json_answer(201, {})) == "unsigned: no signature headers"


def test_encoded_request_is_never_kept() -> None:
    """The 201 carries the whole request in base64, raw identities included: nothing of it
    reaches a record (FACTS.md §2)."""
    subject = Subject(VENDOR, CASES)
    items = subject.items("several")
    sent = subject.request(items)
    encoded = base64.b64encode(json.dumps(sent.body).encode()).decode()

    def respond(request: httpx.Request, n: int) -> httpx.Response:
        return response(created("several", encoded_request=encoded))

    run = run_engine(VENDOR, subject.target, subject.secrets, items, CASES.preflight, respond)
    assert run.report.accepted == 1
    text = json.dumps(run.records)  # the whole ledger, read back from disk
    assert "encoded_request" not in text
    for chunk in re.findall(r".{12}", encoded):
        assert chunk not in text
    (result,) = [r for r in run.records if r["type"] == "result"]
    assert "processor domain processor.example" in result["note"]


def test_preflight_facts_and_admissibility() -> None:
    def discovery(body: dict[str, Any]) -> Any:
        return VENDOR.requests.preflight_result(TARGET, [json_answer(200, body)])

    result = discovery(
        {
            "supported_identities": [
                {"identity_type": "email", "identity_format": "raw"},
                {"identity_type": "android_id", "identity_format": "sha256"},
            ],
            "supported_subject_request_types": ["erasure"],
        }
    )
    assert result.ok and result.facts == {"supported_identities": ["email"]}
    (item,) = items_of(
        {
            "identities": {"email": "a@b.example", "android_id": "droid-123456"},
            "submitted_time": "2024-05-01T10:00:00Z",
        }
    )[0]
    why = VENDOR.requests.admissible(item, result.facts)
    assert why is not None and "android_id" in why and "droid-123456" not in why
    access_only = discovery(
        {"supported_identities": [], "supported_subject_request_types": ["access"]}
    )
    assert not access_only.ok and "no erasure" in (access_only.problem or "")


def test_a_400_is_read_against_the_status_of_our_id() -> None:
    (item,) = items_of(ENTRIES["email"])[0]
    request = VENDOR.requests.build(TARGET, [item])
    refused = Answer(400, {}, {"error": {"code": 400, "message": "already exists"}})
    (outcome,) = VENDOR.requests.interpret(refused, request, [item], {})
    assert outcome.check.method == "GET"
    assert outcome.check.path == f"/opencompliance_requests/{subject_request_id(item)}"
    assert outcome.check.idempotent

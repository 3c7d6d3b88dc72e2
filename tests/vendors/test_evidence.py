"""Every vendor answer read by its evidence rules: `done` only on evidence, and which.

One table per vendor: an answer, and what it must mean for the item (state, evidence,
whether the target stops, whether a read must settle it). The rows come from each
vendor's documentation (the adapter modules' docstrings cite it), and the rows that
matter most are the ones that prove nothing: a generic 404, a page that is not the
vendor's, a 2xx without the documented body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.evidence import ABSENT, ACCEPTED, DONE, FAILED, REJECTED, REMOVED, UNKNOWN, Answer
from reconciler.vendors.twilio_memory.requests import ID_TYPES
from tests.apply.wire import (
    BRAZE,
    INSIDER,
    SEGMENT,
    TWILIO,
    answer,
    braze_item,
    insider_attribute,
    insider_identifier,
    page,
    seg_item,
    twilio_item,
)
from tests.vendors._helpers import REQUESTS

PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"


@dataclass(frozen=True)
class Case:
    id: str
    answer: Answer
    state: str
    evidence: str | None = None
    stops: bool = False
    checks: bool = False


def _outcome(vendor: str, target: Any, item: Any, a: Answer, facts: dict[str, Any] | None = None):
    builder = REQUESTS[vendor]
    request = builder.build(target, [item])
    (outcome,) = builder.interpret(a, request, [item], facts or {})
    return outcome


def _assert(outcome: Any, case: Case) -> None:
    assert outcome.state == case.state, outcome
    assert outcome.evidence == case.evidence, outcome
    assert (outcome.stop is not None) == case.stops, outcome
    assert (outcome.check is not None) == case.checks, outcome
    if outcome.state == DONE:
        assert outcome.evidence in (REMOVED, ABSENT)


def seg_error(status: int, code: str, message: str = "x") -> Answer:
    return answer(status, {"error": {"code": code, "message": message}})


SEGMENT_CASES = [
    Case("200 success", answer(200, {"code": "success"}), DONE, REMOVED),
    Case("200 without code", answer(200, {}), DONE, REMOVED),
    Case("404 eid_not_found", seg_error(404, "eid_not_found"), DONE, ABSENT),
    Case("404 not_found is not absence", seg_error(404, "not_found"), REJECTED),
    Case("404 source_id_not_found", seg_error(404, "source_id_not_found"), FAILED, stops=True),
    Case("403 forbidden", seg_error(403, "forbidden"), FAILED, stops=True),
    Case("401 unauthorized", seg_error(401, "unauthorized"), FAILED, stops=True),
    Case("400 unsupported type", seg_error(400, "unsupported_eid_type"), REJECTED),
    Case("404 html page", page(404), FAILED, stops=True),
    Case("200 html page", page(200), FAILED, stops=True),
    Case("404 json without envelope", answer(404, {"message": "Not Found"}), FAILED, stops=True),
    Case("200 with an error envelope", seg_error(200, "not_found"), FAILED, stops=True),
    Case("200 other code", answer(200, {"code": "queued"}), FAILED, stops=True),
]


@pytest.mark.parametrize("case", SEGMENT_CASES, ids=lambda c: c.id)
def test_segment_evidence(case: Case) -> None:
    _assert(
        _outcome("segment", SEGMENT, seg_item("u_1", "email", "a@b.example"), case.answer), case
    )


def test_segment_profile_not_found_says_to_check_the_user_id() -> None:
    outcome = _outcome(
        "segment", SEGMENT, seg_item("U_1", "email", "a@b.example"), seg_error(404, "not_found")
    )
    assert "check the user_id" in (outcome.message or "")
    assert "case-sensitive" in (outcome.message or "")


EMAIL = braze_item(email="a@b.example", prioritization=["most_recently_updated"])
BRAZE_EMAIL_CASES = [
    Case("deleted 1", answer(201, {"deleted": 1, "message": "success"}), ACCEPTED),
    Case("deleted 0 asks a read", answer(201, {"deleted": 0}), REJECTED, checks=True),
    Case("2xx without deleted", answer(201, {"message": "success"}), UNKNOWN),
    Case("html 200 after a delete by email", page(200), UNKNOWN, stops=True),
    Case("html 404", page(404), FAILED, stops=True),
    Case("401", answer(401, {"message": "Invalid API key"}), FAILED, stops=True),
    Case("403", answer(403, {"message": "Access Denied"}), FAILED, stops=True),
    Case("404 invalid URL", answer(404, {"message": "Not Found"}), FAILED, stops=True),
    Case("400", answer(400, {"message": "bad", "errors": []}), REJECTED),
]


@pytest.mark.parametrize("case", BRAZE_EMAIL_CASES, ids=lambda c: c.id)
def test_braze_email_evidence(case: Case) -> None:
    _assert(_outcome("braze", BRAZE, EMAIL, case.answer), case)


def test_braze_ids_are_accepted_and_a_short_count_is_noted_on_each() -> None:
    builder = REQUESTS["braze"]
    items = [braze_item(external_id=f"e{i}") for i in range(4)]
    request = builder.build(BRAZE, items)
    outcomes = builder.interpret(answer(201, {"deleted": 3}), request, items, {})
    assert {o.state for o in outcomes} == {ACCEPTED}
    assert all("3 of the 4" in (o.note or "") and "unconfirmed" in (o.note or "") for o in outcomes)
    full = builder.interpret(answer(201, {"deleted": 4}), request, items, {})
    assert all(o.note is None for o in full)
    # a 2xx without the count proves nothing; ids are safe to send again: failed
    bare = builder.interpret(answer(200, {"message": "success"}), request, items, {})
    assert {o.state for o in bare} == {FAILED}


@pytest.mark.parametrize(
    ("users", "state", "evidence", "words"),
    [
        ([], DONE, ABSENT, "no Braze user has this email"),
        ([{"external_id": "a"}, {"external_id": "b"}], REJECTED, None, "2 users have this email"),
        ([{"external_id": "a"}], REJECTED, None, "does not match the prioritization"),
    ],
)
def test_braze_deleted_0_is_settled_by_an_export(users, state, evidence, words) -> None:
    builder = REQUESTS["braze"]
    first = _outcome("braze", BRAZE, EMAIL, answer(201, {"deleted": 0}))
    assert first.check.path == "/users/export/ids"
    assert first.check.body["email_address"] == "a@b.example"
    settled = builder.settle(answer(201, {"users": users, "message": "success"}), EMAIL, first)
    assert (settled.state, settled.evidence) == (state, evidence)
    assert words in (settled.message or "")
    unread = builder.settle(None, EMAIL, first)
    assert unread.state == REJECTED and unread.evidence is None


def test_braze_email_deletes_go_one_per_request() -> None:
    builder = REQUESTS["braze"]
    emails = [
        (f"fp{i}", braze_item(email=f"u{i}@b.example", prioritization=["identified"]))
        for i in range(5)
    ]
    assert [len(b) for b in builder.batches(emails)] == [1] * 5


FACTS = {ID_TYPES: ["email", "phone"]}
twilio_error = {"code": 20404, "message": "Not found", "status": 404}
TWILIO_CASES = [
    Case("202", answer(202, {"message": "Identifier removal accepted."}), ACCEPTED),
    Case("404 asks the profile read", answer(404, twilio_error), FAILED, checks=True),
    Case("404 html", page(404), FAILED, stops=True),
    Case("202 html", page(202), FAILED, stops=True),
    Case("401", answer(401, {"code": 20003, "message": "Auth"}), FAILED, stops=True),
    Case("400", answer(400, {"code": 400, "message": "Bad"}), REJECTED),
    Case("308 again", answer(308, {"message": "moved"}), FAILED),
]


@pytest.mark.parametrize("case", TWILIO_CASES, ids=lambda c: c.id)
def test_twilio_evidence(case: Case) -> None:
    _assert(_outcome("twilio_memory", TWILIO, twilio_item(PROFILE, "phone"), case.answer), case)


def test_twilio_404_is_settled_by_the_profile_read() -> None:
    builder = REQUESTS["twilio_memory"]
    item = twilio_item(PROFILE, "phone")
    first = _outcome("twilio_memory", TWILIO, item, answer(404, twilio_error), FACTS)
    assert first.check.method == "GET"
    assert first.check.path.endswith(f"/Profiles/{PROFILE}")
    present = builder.settle(answer(200, {"id": PROFILE, "traits": {}}), item, first)
    assert (present.state, present.evidence) == (DONE, ABSENT)
    missing = builder.settle(answer(404, twilio_error), item, first)
    assert missing.state == REJECTED and "check the profile_id" in (missing.message or "")
    for odd in (page(404), None, answer(500, twilio_error)):
        assert builder.settle(odd, item, first).state == FAILED


def test_twilio_items_of_an_unconfigured_type_are_not_sent() -> None:
    builder = REQUESTS["twilio_memory"]
    assert builder.admissible(twilio_item(PROFILE, "phone"), FACTS) is None
    why = builder.admissible(twilio_item(PROFILE, "Email"), FACTS)
    assert why is not None and "did you mean 'email'" in why and "case-sensitive" in why
    typo = builder.admissible(twilio_item(PROFILE, "phnoe"), FACTS)
    assert typo is not None and "did you mean 'phone'" in typo


ATTR = insider_attribute({"email": "a@b.example"}, "name")
IDENT = insider_identifier("email", "a@b.example")
INSIDER_ATTRIBUTE_CASES = [
    Case("200 {}", answer(200, {}), ACCEPTED),
    Case(
        "200 postman body",
        answer(200, {"data": {"successful": {"count": 1}, "fail": {}}}),
        ACCEPTED,
    ),
    Case("200 listing failures", answer(200, {"data": {"fail": {"count": 1}}}), FAILED),
    Case("404 on the attribute delete", answer(404, {"error": "not found"}), FAILED, stops=True),
    Case(
        "400 partner invalid",
        answer(400, {"success": False, "message": "Partner is invalid."}),
        FAILED,
        stops=True,
    ),
    Case("403", answer(403, {"success": False, "message": "Access Denied."}), FAILED, stops=True),
    Case("400 other", answer(400, {"success": False, "message": "too big"}), REJECTED),
    Case("html 200", page(200), FAILED, stops=True),
]


@pytest.mark.parametrize("case", INSIDER_ATTRIBUTE_CASES, ids=lambda c: c.id)
def test_insider_attribute_evidence(case: Case) -> None:
    _assert(_outcome("insider", INSIDER, ATTR, case.answer), case)


SOLE = {"error": "you cannot delete the sole identifier specified for a user: bad request"}
INSIDER_IDENTITY_CASES = [
    Case("200 empty", answer(200), ACCEPTED),
    Case("200 {}", answer(200, {}), ACCEPTED),
    Case("400 sole identifier", answer(400, SOLE), REJECTED),
    Case("404 asks a profile read", answer(404, {"error": "no such user"}), FAILED, checks=True),
    Case("html 404", page(404), FAILED, stops=True),
]


@pytest.mark.parametrize("case", INSIDER_IDENTITY_CASES, ids=lambda c: c.id)
def test_insider_identity_evidence(case: Case) -> None:
    _assert(_outcome("insider", INSIDER, IDENT, case.answer), case)


def test_insider_identity_404_is_settled_by_the_documented_profile_read() -> None:
    builder = REQUESTS["insider"]
    first = _outcome("insider", INSIDER, IDENT, answer(404, {"error": "no such user"}))
    assert first.check.path == "/api/user/v1/profile"
    assert first.check.body["identifiers"] == {"email": "a@b.example"}
    gone = answer(404, {"error": "no such user for these identifiers: no data"})
    settled = builder.settle(gone, IDENT, first)
    assert (settled.state, settled.evidence) == (DONE, ABSENT)
    still = builder.settle(answer(200, {"attributes": {"email": "a@b.example"}}), IDENT, first)
    assert still.state == FAILED
    assert builder.settle(page(404), IDENT, first).state == FAILED


@pytest.mark.parametrize(
    ("vendor", "target", "good", "bad"),
    [
        ("segment", SEGMENT, answer(404, {"error": {"code": "not_found", "message": "x"}}), page()),
        ("braze", BRAZE, answer(201, {"users": [], "invalid_user_ids": ["p"]}), page()),
        ("insider", INSIDER, answer(404, {"error": "no such user for these identifiers"}), page()),
    ],
)
def test_preflight_proves_the_host_and_refuses_a_page(vendor, target, good, bad) -> None:
    builder = REQUESTS[vendor]
    (read,) = builder.preflight(target)
    assert read.method in ("GET", "POST")
    assert builder.preflight_result(target, [good]).ok
    refused = builder.preflight_result(target, [bad])
    assert not refused.ok and "base_url" in (refused.fix or "")
    assert not builder.preflight_result(target, [None]).ok
    denied = builder.preflight_result(target, [answer(401, {"message": "no"})])
    assert not denied.ok and "401" in (denied.problem or "")


def test_twilio_preflight_reads_the_store_and_its_identifier_types() -> None:
    builder = REQUESTS["twilio_memory"]
    store, settings = builder.preflight(TWILIO)
    assert store.path.endswith("/ControlPlane/Stores/mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4")
    assert settings.path.endswith("/IdentityResolutionSettings")
    configs = {"identifierConfigs": [{"idType": "email"}, {"idType": "phone"}], "version": 1}
    result = builder.preflight_result(TWILIO, [answer(200, {"id": "s"}), answer(200, configs)])
    assert result.ok and result.facts[ID_TYPES] == ["email", "phone"]
    missing = builder.preflight_result(TWILIO, [answer(404, twilio_error), None])
    assert missing.problem == "the store was not found"
    assert not builder.preflight_result(TWILIO, [page(404), None]).ok


def test_insider_preflight_names_an_invalid_partner() -> None:
    builder = REQUESTS["insider"]
    bad = answer(400, {"success": False, "message": "Partner is invalid."})
    result = builder.preflight_result(INSIDER, [bad])
    assert not result.ok and result.fix == "check partner_name"

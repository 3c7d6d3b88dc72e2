"""The conformance kit fails deliberately broken adapters, each for its own reason.

Each broken adapter is a built-in vendor with one part replaced (`Patched`), run through
the kit with the built-in vendor's own cases: the kit must name the breakage.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.desired import Item
from reconciler.evidence import UNKNOWN, Answer, Outcome, absent, failed, rejected
from reconciler.testing import (
    ABSENT,
    PROVES_NOTHING,
    TARGET_STOP,
    AnswerCase,
    ReadCase,
    check_vendor,
    conformance_tests,
    json_answer,
    page,
    run_check,
)
from reconciler.testing.conformance import spellings
from reconciler.testing.wire import registered
from reconciler.vendors.api import ABSENT_SEEN, PRESENT, UNVERIFIED, Observation, VendorRequest
from reconciler.vendors.kit import singles
from reconciler.vendors.registry import installed, vendor
from tests.vendors.conformance_cases import BRAZE, INSIDER, SEGMENT


class Patched:
    """`inner` with some attributes replaced: a deliberately broken adapter."""

    def __init__(self, inner: Any, **parts: Any) -> None:
        self._inner = inner
        self.__dict__.update(parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class PatchedRules(Patched):
    """Rules with some methods replaced; refined for a target, they stay patched."""

    def for_target(self, settings: Any) -> PatchedRules:
        return type(self)(self._inner.for_target(settings))


def problems(broken: Any, cases: Any, check: str) -> list[str]:
    return [f.problem for f in run_check(broken, cases, check)]


# -- a 404 read as done ----------------------------------------------------------------------


class AnyNotFoundIsAbsent(Patched):
    def interpret(self, answer: Answer, request: Any, items: Any, facts: Any) -> list[Outcome]:
        if answer.status == 404:  # the bug: every 404 is taken for "already absent"
            return [absent(404)] * len(items)
        return self._inner.interpret(answer, request, items, facts)


def test_a_404_read_as_done_fails_the_evidence_checks() -> None:
    segment = vendor("segment")
    broken = Patched(segment, requests=AnyNotFoundIsAbsent(segment.requests))
    found = problems(broken, SEGMENT, "evidence")
    assert any("answered by HTTP 404, text/html: done" in p for p in found), found
    assert any("not_found" in p or "profile not found" in p for p in found), found
    engine = problems(broken, SEGMENT, "evidence-engine")
    assert any("a web server's 404" in p and "absent 1" in p for p in engine), engine


def test_a_check_settled_as_done_on_a_page_fails() -> None:
    twilio = vendor("twilio_memory")

    class PageProvesAbsence(Patched):
        def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
            return absent(404)  # the bug: whatever the profile read answered

    broken = Patched(twilio, requests=PageProvesAbsence(twilio.requests))
    from tests.vendors.conformance_cases import TWILIO_MEMORY

    found = problems(broken, TWILIO_MEMORY, "evidence")
    assert any("a read answered by no answer settles it as done" in p for p in found), found
    assert any("HTTP 404, text/html settles it as done" in p for p in found), found


# -- a batch over the limit ------------------------------------------------------------------


class SixtyAtATime(Patched):
    def batches(self, pairs: Sequence[Any]) -> list[list[Any]]:
        return [list(pairs[i : i + 60]) for i in range(0, len(pairs), 60)]


def test_a_batch_over_the_declared_limit_fails() -> None:
    braze = vendor("braze")
    broken = Patched(braze, requests=SixtyAtATime(braze.requests))
    found = problems(broken, BRAZE, "batches")
    assert any("a batch of 60 over the declared batch size 50" in p for p in found), found
    # the batcher also mixes email and id deletes when the samples are batched together
    assert any("do not share a batch key" in p for p in found), found


def test_a_body_over_the_declared_size_fails() -> None:
    insider = vendor("insider")

    class NoByteLimit(Patched):
        def batches(self, pairs: Sequence[Any]) -> list[list[Any]]:
            # the bug: 1,000 users a request, however large their removals
            users: dict[str, list[Any]] = {}
            for pair in pairs:
                users.setdefault(json.dumps(pair[1].locator), []).append(pair)
            groups = list(users.values())
            return [sum(groups[i : i + 1000], []) for i in range(0, len(groups), 1000)]

    broken = Patched(insider, requests=NoByteLimit(insider.requests))
    found = problems(broken, INSIDER, "batches")
    assert any("large entries: a body of" in p and "over the declared 5000000" in p for p in found)


def test_a_batch_size_declared_but_never_reached_fails() -> None:
    braze = vendor("braze")

    class TenAtATime(Patched):
        def batches(self, pairs: Sequence[Any]) -> list[list[Any]]:
            return [list(pairs[i : i + 10]) for i in range(0, len(pairs), 10)]

    broken = Patched(braze, requests=TenAtATime(braze.requests))
    found = problems(broken, BRAZE, "batches")
    assert any("the fullest batch holds 10, not the declared batch size 50" in p for p in found)


# -- a non-idempotent resend -----------------------------------------------------------------


class EverythingIdempotent(Patched):
    def build(self, target: Any, items: Any) -> VendorRequest:
        request = self._inner.build(target, items)
        return dataclasses.replace(request, idempotent=True)  # the bug: retried on a 503


def test_a_non_idempotent_request_resent_after_a_timeout_fails() -> None:
    braze = vendor("braze")
    broken = Patched(braze, requests=EverythingIdempotent(braze.requests))
    found = problems(broken, BRAZE, "resend")
    assert any("entry 'email' after a 503: sent 4 times" in p for p in found), found
    assert any("after a timeout: sent 4 times" in p for p in found), found
    assert any("held() says resending is unsafe, yet its request is marked" in p for p in found)


def test_a_lost_answer_that_the_plan_would_resend_fails() -> None:
    braze = vendor("braze")

    class NeverHeld(Patched):
        def held(self, item: Item) -> bool:
            return False  # the bug: the next plan sends an unknown item again

    broken = NeverHeld(braze)
    found = problems(broken, BRAZE, "resend")
    assert any("not idempotent, yet held() is False" in p for p in found), found
    evidence = problems(broken, BRAZE, "evidence")
    assert any("unknown, yet held() is False" in p for p in evidence), evidence


def test_a_2xx_after_a_non_idempotent_request_read_as_failed_fails() -> None:
    braze = vendor("braze")

    class RetryTheUnknown(Patched):
        def interpret(self, answer: Answer, request: Any, items: Any, facts: Any) -> list[Outcome]:
            outcomes = self._inner.interpret(answer, request, items, facts)
            return [failed(o.code, "retry") if o.state == UNKNOWN else o for o in outcomes]

    broken = Patched(braze, requests=RetryTheUnknown(braze.requests))
    found = problems(broken, BRAZE, "evidence")
    assert any("failed, so sent again, though its request is not idempotent" in p for p in found)


# -- stops, preflight, canonical form, golden, masking ---------------------------------------


def test_a_target_level_answer_that_does_not_stop_fails() -> None:
    segment = vendor("segment")

    class CredentialsPerItem(Patched):
        def interpret(self, answer: Answer, request: Any, items: Any, facts: Any) -> list[Outcome]:
            if answer.status in (401, 403):
                return [rejected(answer.status, "refused")] * len(items)
            return self._inner.interpret(answer, request, items, facts)

    broken = Patched(segment, requests=CredentialsPerItem(segment.requests))
    found = problems(broken, SEGMENT, "evidence")
    assert any("target-stop (§2 401)" in p and "without stopping" in p for p in found), found
    stop = problems(broken, SEGMENT, "stop")
    assert any("the target did not stop" in p for p in stop), stop


def test_a_preflight_that_a_page_passes_fails() -> None:
    segment = vendor("segment")

    class AnyAnswerWillDo(Patched):
        def preflight_result(self, target: Any, answers: Any) -> Any:
            from reconciler.vendors.api import Preflight

            return Preflight()

    broken = Patched(segment, requests=AnyAnswerWillDo(segment.requests))
    found = problems(broken, SEGMENT, "preflight")
    assert any("a preflight answered by no answer passes" in p for p in found), found
    assert any("HTTP 404, text/html passes" in p for p in found), found
    assert any("after a failed preflight" in p for p in found), found


class KeyOrderRules(PatchedRules):
    """The bug: the canonical form remembers the order the entry's keys were written in."""

    def items(self, target: str, entry: Any, report: Any) -> list[Item]:
        made = self._inner.items(target, entry, report)
        order = list(entry)
        return [Item(i.target, i.vendor, i.locator, {**i.removal, "order": order}) for i in made]


def test_canonical_bytes_that_depend_on_key_order_fail() -> None:
    segment = vendor("segment")
    broken = Patched(segment, rules=KeyOrderRules(segment.rules))
    found = problems(broken, SEGMENT, "canonical")
    assert any("keys in reverse order makes other items" in p for p in found), found
    assert any("YAML double-quoted makes other items" in p for p in found), found
    golden = problems(broken, SEGMENT, "golden")
    assert any("its fingerprints changed" in p for p in golden), golden


def test_fingerprints_that_change_across_versions_fail(tmp_path: Path) -> None:
    segment = vendor("segment")

    class LaterVersion(PatchedRules):
        def items(self, target: str, entry: Any, report: Any) -> list[Item]:
            made = self._inner.items(target, entry, report)
            return [Item(i.target, i.vendor, i.locator, {**i.removal, "v": 2}) for i in made]

    broken = Patched(segment, rules=LaterVersion(segment.rules))
    found = problems(broken, SEGMENT, "golden")
    assert sum("its fingerprints changed" in p for p in found) == len(SEGMENT.entries)
    missing = dataclasses.replace(SEGMENT, golden=tmp_path / "none.json")
    assert any("no golden file" in p for p in problems(segment, missing, "golden"))
    grown = dataclasses.replace(
        SEGMENT, entries={**SEGMENT.entries, "new": SEGMENT.entries["email"]}
    )
    assert any("'new' is not in the golden file" in p for p in problems(segment, grown, "golden"))


def test_the_yaml_spellings_are_really_different_texts() -> None:
    texts = spellings({"profile": {"user_id": "u_1"}, "identifiers": [{"type": "email"}]})
    assert len(set(texts.values())) == len(texts) >= 5
    assert texts["flow"].startswith("[{")
    assert '"profile"' in texts["double-quoted"]


def test_a_request_id_holding_a_value_never_reaches_the_records() -> None:
    """The engine keeps a request id only when it is a plain token holding no value and
    no secret (apply/session.py request_token): even an adapter that passes the request
    body off as the request id leaks nothing, and the kit's masking check sees none."""
    segment = vendor("segment")

    class ValueAsRequestId(Patched):
        def interpret(self, answer: Answer, request: Any, items: Any, facts: Any) -> list[Outcome]:
            outcomes = self._inner.interpret(answer, request, items, facts)
            # the bug: the request id is stored as it is, and here it is the value
            return [o.with_request_id(json.dumps(request.body)) for o in outcomes]

    broken = Patched(segment, requests=ValueAsRequestId(segment.requests))
    found = problems(broken, SEGMENT, "masking")
    assert not any("reached the records" in p for p in found), found


def test_a_secret_in_a_request_id_never_reaches_the_records() -> None:
    segment = vendor("segment")

    class HeaderAsRequestId(Patched):
        def interpret(self, answer: Answer, request: Any, items: Any, facts: Any) -> list[Outcome]:
            outcomes = self._inner.interpret(answer, request, items, facts)
            return [o.with_request_id(str(answer.body)) for o in outcomes]

    broken = Patched(segment, requests=HeaderAsRequestId(segment.requests))
    found = problems(broken, SEGMENT, "masking")
    assert not any("reached the records" in p for p in found), found


# -- reads -----------------------------------------------------------------------------------


class ToyReader:
    """A read for Segment identifiers: 200 listing the identifier = present, the
    documented eid list without it = absent."""

    def __init__(self, trust_404: bool) -> None:
        self.trust_404 = trust_404

    def read_batches(self, pairs: Sequence[Any]) -> list[list[Any]]:
        return singles(pairs)

    def read_request(self, target: Any, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        return VendorRequest("GET", f"/v1/profiles/user_id:{item.locator['user_id']}/external_ids")

    def observe(self, answer: Any, request: Any, items: Sequence[Item]) -> list[Any]:
        (item,) = items
        if answer is not None and answer.status == 404 and self.trust_404:
            return [Observation(ABSENT_SEEN)]  # the bug: a page is taken for absence
        if answer is None or answer.status != 200 or not isinstance(answer.body, dict):
            return [Observation(UNVERIFIED)]
        ids = [e.get("id") for e in answer.body.get("data", [])]
        return [Observation(PRESENT if item.removal["value"] in ids else ABSENT_SEEN)]


def with_reader(trust_404: bool) -> tuple[Any, Any]:
    segment = vendor("segment")
    caps = dataclasses.replace(segment.capabilities, read=True)
    email = SEGMENT.entries["email"]["identifiers"][0]["value"]
    cases = dataclasses.replace(
        SEGMENT,
        reads=[
            ReadCase("email", json_answer(200, {"data": [{"id": email}]}), PRESENT),
            ReadCase("email", json_answer(200, {"data": []}), ABSENT_SEEN),
        ],
    )
    return Patched(segment, reader=ToyReader(trust_404), capabilities=caps), cases


def test_a_reader_that_takes_a_page_for_absence_fails_and_a_careful_one_passes() -> None:
    careful, cases = with_reader(trust_404=False)
    assert problems(careful, cases, "reads") == []
    careless, cases = with_reader(trust_404=True)
    found = problems(careless, cases, "reads")
    assert any(
        "answered by HTTP 404, text/html shows Observation(seen='absent'" in p for p in found
    )
    # through the real refresh engine too: what it would record
    assert any(
        "a read answered by a 404 page recorded {'present': 0, 'absent': 1" in p for p in found
    )
    no_cases = dataclasses.replace(cases, reads=[])
    assert any("no ReadCase shows present" in p for p in problems(careful, no_cases, "reads"))


# -- the cases themselves, and the kit's plumbing ---------------------------------------------


def test_cases_that_skip_the_rules_that_matter_fail() -> None:
    segment = vendor("segment")
    only_success = dataclasses.replace(
        SEGMENT, answers=[a for a in SEGMENT.answers if a.rule not in (PROVES_NOTHING, TARGET_STOP)]
    )
    found = problems(segment, only_success, "evidence")
    assert any("no AnswerCase follows proves-nothing" in p for p in found), found
    assert any("no AnswerCase follows target-stop" in p for p in found), found
    wrong = dataclasses.replace(
        SEGMENT, answers=[AnswerCase(ABSENT, "email", json_answer(200, {"code": "success"}))]
    )
    assert any("reads as done (removed)" in p for p in problems(segment, wrong, "evidence"))
    unknown_entry = dataclasses.replace(
        SEGMENT, answers=[AnswerCase(TARGET_STOP, "nope", page(404))]
    )
    assert any("the cases are wrong" in p for p in problems(segment, unknown_entry, "evidence"))


def test_an_irreversible_vendor_must_make_manifests_opt_in() -> None:
    braze = vendor("braze")

    class NoOptIn(PatchedRules):
        def check_spec(self, spec: Any, report: Any) -> None:
            return None

    broken = Patched(braze, rules=NoOptIn(braze.rules))
    assert any("irreversible, yet a manifest" in p for p in problems(broken, BRAZE, "entries"))


def test_registered_swaps_the_vendor_and_restores_it() -> None:
    segment = vendor("segment")
    stand_in = Patched(segment)
    with registered(stand_in):  # type: ignore[arg-type]
        assert vendor("segment") is stand_in
    assert vendor("segment") is segment
    assert set(installed().vendors) >= {"segment", "braze", "twilio_memory", "insider"}


def test_check_vendor_runs_every_check_and_a_crash_is_a_finding() -> None:
    assert check_vendor(vendor("segment"), SEGMENT) == []
    segment = vendor("segment")

    class Crashes(Patched):
        def batches(self, pairs: Sequence[Any]) -> list[list[Any]]:
            raise RuntimeError("boom")

    failures = check_vendor(Patched(segment, requests=Crashes(segment.requests)), SEGMENT)
    assert any(f.check == "batches" and "raised RuntimeError: boom" in f.problem for f in failures)


test_segment_through_the_pytest_helper = conformance_tests(vendor("segment"), SEGMENT)


def test_the_pytest_helper_fails_a_broken_vendor() -> None:
    segment = vendor("segment")
    broken = Patched(segment, requests=AnyNotFoundIsAbsent(segment.requests))
    test = conformance_tests(broken, SEGMENT)
    with pytest.raises(pytest.fail.Exception, match="fails the evidence check"):
        test("evidence")


def test_the_masking_check_fails_when_the_engine_stops_guarding_request_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control for the two tests above: without the engine's guard, the kit sees it."""
    segment = vendor("segment")

    class ValueAsRequestId(Patched):
        def interpret(self, answer: Answer, request: Any, items: Any, facts: Any) -> list[Outcome]:
            outcomes = self._inner.interpret(answer, request, items, facts)
            return [o.with_request_id(json.dumps(request.body)) for o in outcomes]

    monkeypatch.setattr("reconciler.apply.engine.request_token", lambda value, *_: value)
    broken = Patched(segment, requests=ValueAsRequestId(segment.requests))
    found = problems(broken, SEGMENT, "masking")
    assert any("a value reached the records" in p for p in found), found

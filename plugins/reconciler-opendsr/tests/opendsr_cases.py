"""The OpenDSR plugin's conformance cases: sample subjects and the processor's documented
answers (reconciler/vendors/opendsr/FACTS.md §2, §3; FACTS.md in this package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler_opendsr import VENDOR
from reconciler_opendsr.ids import subject_request_id

from reconciler.evidence import Answer
from reconciler.testing import (
    ACCEPTED,
    CHECK,
    PROVES_NOTHING,
    REJECTED,
    REMOVED,
    TARGET_STOP,
    AnswerCase,
    ConformanceCases,
    CsvCase,
    InadmissibleCase,
    ReadCase,
    json_answer,
    page,
)
from reconciler.vendors.api import ABSENT_SEEN, PRESENT, UNVERIFIED

SETTINGS: dict[str, Any] = {
    "base_url": "https://processor.example/v1",
    "auth": "basic",
    "credentials_env": "OPENDSR_CREDENTIALS",
    "identity_types": ["mpid"],
}
ENTRIES: dict[str, dict[str, Any]] = {
    "email": {
        "identities": {"email": "jane.conformance@old-domain.example"},
        "submitted_time": "2024-05-01T10:00:00Z",
    },
    "several": {
        "identities": {
            "email": "omar.conformance@old-domain.example",
            "controller_customer_id": "cust-conformance-1002",
            "ios_advertising_id": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
        },
        "submitted_time": "2024-05-02T09:30:00+02:00",
    },
    "processor-type": {
        "identities": {"mpid": "8675309123456789"},
        "submitted_time": "2024-05-03T00:00:00.250Z",
    },
}


def request_id(entry: str) -> str:
    """The subject_request_id the plugin sends for a sample entry."""
    rules = VENDOR.rules.for_target({"vendor": "opendsr", **SETTINGS})
    (item,) = rules.items("conformance", ENTRIES[entry], lambda path, message: None)
    return subject_request_id(item)


def discovery(*types: str) -> Answer:
    identities = [{"identity_type": t, "identity_format": "raw"} for t in types]
    return json_answer(
        200,
        {
            "api_version": "1.0",
            "supported_identities": identities,
            "supported_subject_request_types": ["erasure", "access"],
            "processor_certificate": "https://processor.example/cert.pem",
        },
    )


SIGNED = {
    "x_opencompliance_processor_domain": "processor.example",
    "x_opencompliance_signature": "c2lnbmF0dXJl",
}


def created(entry: str, **fields: Any) -> Answer:
    body = {
        "controller_id": "controller-1",
        "expected_completion_time": "2024-06-01T00:00:00Z",
        "received_time": "2024-05-01T10:00:05Z",
        "encoded_request": "eyJzdWJqZWN0X2lkZW50aXRpZXMiOiBbXX0=",
        "subject_request_id": request_id(entry),
        "processor_signature": "c2lnbmF0dXJl",
        **fields,
    }
    return json_answer(201, body, **SIGNED)


def status(entry: str, request_status: str, **fields: Any) -> Answer:
    body = {
        "controller_id": "controller-1",
        "expected_completion_time": "2024-06-01T00:00:00Z",
        "subject_request_id": request_id(entry),
        "request_status": request_status,
        **fields,
    }
    return json_answer(200, body, **SIGNED)


def error(status_code: int, message: str, reason: str = "invalid") -> Answer:
    inner = {"code": status_code, "message": message, "errors": [{"reason": reason}]}
    return json_answer(status_code, {"error": inner})


DUPLICATE = error(400, "the subject request already exists", "duplicate")
NOT_FOUND = error(404, "the subject request id was not found", "not_found")

CASES = ConformanceCases(
    settings=SETTINGS,
    spec={"delete_profiles": True},
    entries=ENTRIES,
    golden=Path(__file__).parent / "golden.json",
    secrets={"credentials_env": "conformance-key-7Hq2Lm:conformance-secret-9Vx4Qp"},
    preflight=[discovery("email", "controller_customer_id", "ios_advertising_id", "mpid")],
    answers=[
        AnswerCase(ACCEPTED, "email", created("email"), why="§2 201"),
        AnswerCase(ACCEPTED, "several", created("several"), why="§2 201"),
        AnswerCase(
            ACCEPTED,
            "email",
            json_answer(
                201,
                {"code": 201, "subject_request_id": request_id("email")},
                x_opendsr_signature="c2ln",
            ),
            why="§2 201 with mParticle's header prefix",
        ),
        AnswerCase(PROVES_NOTHING, "email", created("several"), why="a 201 about another id"),
        AnswerCase(PROVES_NOTHING, "email", page(201, "<html>Created</html>"), why="a 201 page"),
        AnswerCase(PROVES_NOTHING, "email", json_answer(200, {"ok": True}), why="a 200"),
        AnswerCase(
            CHECK,
            "email",
            DUPLICATE,
            settle=status("email", "pending"),
            settles_as=ACCEPTED,
            why="§5 already exists, the first send is pending",
        ),
        AnswerCase(
            CHECK,
            "email",
            DUPLICATE,
            settle=status("email", "completed"),
            settles_as=REMOVED,
            why="§5 already exists and completed",
        ),
        AnswerCase(
            CHECK,
            "email",
            DUPLICATE,
            settle=status("email", "cancelled"),
            settles_as=REJECTED,
            why="§5 already exists, cancelled",
        ),
        AnswerCase(
            CHECK,
            "email",
            error(400, "submitted_time is in the future"),
            settle=NOT_FOUND,
            settles_as=REJECTED,
            why="§2 a plain 400: no request with our id",
        ),
        AnswerCase(
            CHECK,
            "email",
            DUPLICATE,
            settle=status("several", "completed"),
            settles_as=PROVES_NOTHING,
            why="a status about another id",
        ),
        AnswerCase(
            CHECK,
            "email",
            json_answer(400, {"code": 400, "message": "bad", "errors": []}),
            settle=NOT_FOUND,
            settles_as=REJECTED,
            why="§7.3 mParticle's unwrapped error",
        ),
        AnswerCase(TARGET_STOP, "email", error(401, "the credentials are not valid")),
        AnswerCase(TARGET_STOP, "email", error(403, "forbidden")),
        AnswerCase(TARGET_STOP, "email", NOT_FOUND, why="a 404 on the requests route"),
        AnswerCase(TARGET_STOP, "email", page(404), why="a web server's 404"),
        AnswerCase(PROVES_NOTHING, "email", error(409, "already in progress"), why="§2 409"),
        AnswerCase(REJECTED, "email", error(422, "unprocessable")),
    ],
    reads=[
        ReadCase("email", status("email", "completed"), ABSENT_SEEN, "§3 completed"),
        ReadCase("email", status("email", "cancelled"), PRESENT, "§3 cancelled"),
        ReadCase("email", status("email", "pending"), UNVERIFIED, "§3 pending"),
        ReadCase("several", status("several", "in_progress"), UNVERIFIED, "§3 in_progress"),
        ReadCase("email", NOT_FOUND, PRESENT, "the processor's 404"),
        ReadCase("email", status("several", "completed"), UNVERIFIED, "another id"),
        ReadCase("email", json_answer(200, {"request_status": "done"}), UNVERIFIED, "odd status"),
    ],
    csv=[
        CsvCase(
            ("submitted_time", "email"),
            ("2024-05-01T10:00:00Z", "jane.conformance@old-domain.example"),
            "email",
        )
    ],
    inadmissible=[InadmissibleCase("processor-type", (discovery("email"),))],
)

"""The emulator serves the documented routes and bodies over real HTTP on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import KEY, SECRET
from reconciler_opendsr.emulator import Emulator, EmulatorOptions, require_loopback

RID = "0b3a6f1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
EMAIL = "jane.emulator@old-domain.example"


def body(rid: str = RID, **fields: Any) -> dict[str, Any]:
    return {
        "regulation": "gdpr",
        "subject_request_id": rid,
        "subject_request_type": "erasure",
        "subject_identities": [
            {"identity_type": "email", "identity_value": EMAIL, "identity_format": "raw"}
        ],
        "submitted_time": "2024-05-01T10:00:00Z",
        **fields,
    }


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, auth=(KEY, SECRET), timeout=10) as c:
        yield c


def test_discovery_and_status(client: httpx.Client) -> None:
    found = client.get("/discovery").json()
    assert {"identity_type": "email", "identity_format": "raw"} in found["supported_identities"]
    assert found["supported_subject_request_types"] == ["erasure"]
    assert found["processor_certificate"].startswith("http://127.0.0.1")
    assert client.get("/status").status_code == 200


def test_a_request_moves_from_pending_to_completed() -> None:
    delay = 1.0  # long enough to see each status on a busy machine
    with Emulator(EmulatorOptions(key=KEY, secret=SECRET, delay=delay)) as emulator:
        client = httpx.Client(base_url=emulator.url, auth=(KEY, SECRET), timeout=10)
        created = client.post("/opencompliance_requests", json=body())
        assert created.status_code == 201
        answer = created.json()
        assert answer["subject_request_id"] == RID
        assert set(answer) >= {
            "controller_id",
            "expected_completion_time",
            "received_time",
            "encoded_request",
            "processor_signature",
        }
        assert created.headers["X-OpenCompliance-Processor-Domain"] == "emulator.opendsr.test"
        assert created.headers["X-OpenCompliance-Signature"]
        seen = [client.get(f"/opencompliance_requests/{RID}").json()["request_status"]]
        deadline = time.monotonic() + 10 * delay
        while seen[-1] != "completed" and time.monotonic() < deadline:
            time.sleep(delay / 10)
            status = client.get(f"/opencompliance_requests/{RID}").json()["request_status"]
            if status != seen[-1]:
                seen.append(status)
        client.close()
    assert seen == ["pending", "in_progress", "completed"]


def test_duplicates_conflicts_and_cancels(client: httpx.Client) -> None:
    assert client.post("/opencompliance_requests", json=body()).status_code == 201
    again = client.post("/opencompliance_requests", json=body())
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "the subject request already exists"
    other = client.post("/opencompliance_requests", json=body(RID.replace("0b3a", "1c4b")))
    assert other.status_code == 409  # the same identities, in progress under another id
    assert client.delete(f"/opencompliance_requests/{RID}").status_code == 202
    cancelled = client.get(f"/opencompliance_requests/{RID}").json()
    assert cancelled["request_status"] == "cancelled"
    missing = client.get("/opencompliance_requests/4b3a6f1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404


@pytest.mark.parametrize(
    "fields",
    [
        {"regulation": "hipaa"},
        {"subject_request_id": RID.upper()},
        {"subject_request_type": "access"},
        {"submitted_time": "May 1st"},
        {"subject_identities": [{"identity_type": "fax", "identity_value": EMAIL}]},
    ],
)
def test_a_malformed_request_is_a_400_that_quotes_no_identity(
    client: httpx.Client, fields: dict[str, Any]
) -> None:
    refused = client.post("/opencompliance_requests", json=body(**fields))
    assert refused.status_code == 400
    assert refused.json()["error"]["errors"][0]["reason"] == "invalid_request"
    assert EMAIL not in refused.text


def test_credentials_are_checked(emulator: Emulator) -> None:
    assert httpx.get(f"{emulator.url}/discovery").status_code == 401
    wrong = httpx.get(f"{emulator.url}/discovery", auth=(KEY, "nope"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401


def test_a_lost_answer_fault_acts_then_fails(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults(act_then_fail=1, status=503)
    assert client.post("/opencompliance_requests", json=body()).status_code == 503
    assert list(emulator.state()["requests"]) == [RID]  # acted on, answer lost


def test_it_listens_on_loopback_only() -> None:
    for host in ("0.0.0.0", "192.0.2.1", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            require_loopback(host)
    require_loopback("127.0.0.1")
    require_loopback("::1")


def test_the_command_refuses_an_address_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler_opendsr.emulator.__main__ import main

    assert main(["--host", "0.0.0.0", "--port", "0"]) == 1
    assert "only listens on loopback" in capsys.readouterr().err

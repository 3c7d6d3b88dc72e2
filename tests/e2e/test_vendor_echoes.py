"""Vendors that echo the request back: nothing personal or secret reaches the ledger or
the output, in whatever format the vendor rewrites it (issue: PII scrubbed from every
echo; no secret in any record).

The sandbox's echo fault answers every request with an error repeating its headers
(Authorization included), its body, every phone number in other formats, and every
other identifier the vendor holds for that profile or user.
"""

from __future__ import annotations

import base64

import pytest

from reconciler.sandbox.echo import phone_formats
from tests.kit.e2e import BRAZE_KEY, INSIDER_TOKEN, SECRET_FORMS, SEED, SEGMENT_TOKEN, item_events

# every personal value the sandbox holds for the kit's profiles and users
PHONE = "+15555550100"
PERSONAL = [
    PHONE,
    *phone_formats(PHONE),
    "jane@old-domain.example",
    "omar@old-domain.example",
    "anon@old-domain.example",
    "a-7f3c",  # Segment's anonymous_id on jane's profile
    "u-1001",  # Insider uuid
    "ext_1001",
    "ext_1002",
]


def stored(project) -> str:
    text = ""
    for path in (project.ledger_dir / "runs").glob("*.jsonl"):
        text += path.read_text()
    return text


@pytest.mark.parametrize("vendor", ["segment", "braze", "twilio_memory", "insider"])
def test_an_echoing_vendor_leaks_nothing_into_the_ledger_or_the_output(project, sandbox, vendor):
    # every delete echoes; the reads (the preflight) pass, so the deletes are sent
    sandbox.control.set_faults(vendor, echo_rate=1.0, faults_on_reads=0)
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1  # the echoed errors are failures, not successes
    echoed = [e for e in sandbox.control.requests(vendor=vendor) if e["fault"] == "echo"]
    assert echoed, "the fault was injected"
    everything = stored(project) + result.output
    for value in PERSONAL:
        assert value not in everything, f"{value!r} reached the ledger or the output"
    for form in SECRET_FORMS:
        assert form not in everything, "a secret reached the ledger or the output"
    # what is kept is the vendor's words, masked: the message says what came back
    target = {"segment": "seg", "braze": "brz", "twilio_memory": "mem", "insider": "ins"}[vendor]
    messages = [
        e.get("message") or "" for e in item_events(project, "result") if e["target"] == target
    ]
    assert messages and all("Invalid request" in m for m in messages), messages
    assert "preflight" not in result.err
    project.assert_no_secrets()


def test_secrets_in_the_echo_are_redacted_in_every_form(project, sandbox):
    sandbox.control.set_faults("*", echo_rate=1.0, faults_on_reads=0)
    result = project.cli("apply", "--auto-approve")
    text = stored(project) + result.output
    basic = base64.b64encode(f"{SEGMENT_TOKEN}:".encode()).decode()
    for secret in (SEGMENT_TOKEN, BRAZE_KEY, INSIDER_TOKEN, basic):
        assert secret not in text
    assert SEED  # the kit's seed is what the personal values above come from

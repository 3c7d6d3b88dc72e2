"""Apply against the loopback sandbox, all four vendors together, through the real CLI."""

from __future__ import annotations

import hashlib
import json

import pytest

from reconciler.ledger.store import item_key
from reconciler.ledger.verify import item_events
from tests.kit.e2e import (
    FIRST_APPLY,
    ITEMS,
    NO_CHANGES,
    ODD_USER,
    PROFILE_A,
    PROFILE_MERGED,
    SPACE,
    STORE,
    removal,
    summary,
    vendor_requests,
)


def test_apply_then_plan_shows_no_changes_and_a_second_apply_sends_nothing(project, sandbox):
    first = project.cli("apply", "--auto-approve")
    assert first.code == 0, first.output
    assert summary(first) == (*FIRST_APPLY, 0, 0)
    log = vendor_requests(sandbox)
    # every request passed the vendor's rules, credentials included
    assert [e for e in log if e["violations"] and e["status"] not in (404, 308)] == []
    assert {e["status"] for e in log} <= {200, 201, 202, 308, 404}

    plan = project.cli("plan")
    assert plan.code == 0, plan.output
    assert plan.out.rstrip().endswith(NO_CHANGES)
    detailed = project.cli("plan", "--detailed-exitcode")
    assert detailed.code == 0  # accepted items count as already removed
    data = project.plan_json()
    assert data["summary"]["already_removed"] == ITEMS
    assert {a["state"] for a in data["actions"]} == {"done", "accepted"}

    second = project.cli("apply", "--auto-approve")
    assert second.code == 0, second.output
    assert "Nothing to send." in second.out
    assert vendor_requests(sandbox) == log  # the sandbox log is unchanged

    verify = project.cli("ledger", "verify")
    assert verify.code == 0, verify.output
    project.assert_no_secrets()


def test_the_vendors_state_shows_the_removals(project, sandbox):
    assert project.cli("apply", "--auto-approve").code == 0
    sandbox.control.settle()  # Twilio removals are asynchronous
    state = sandbox.control.state()

    profiles = state["segment"]["spaces"][SPACE]["profiles"]
    ids = {(e["type"], e["id"]) for p in profiles for e in p["external_ids"]}
    assert ("email", "jane@old-domain.example") not in ids
    assert ("phone", "+15555550100") not in ids
    assert ("email", "omar@old-domain.example") not in ids  # reached through %2B%2F%40
    assert ("user_id", ODD_USER) in ids and ("anonymous_id", "a-7f3c") in ids

    users = state["braze"]["users"]
    assert {u.get("external_id") for u in users}.isdisjoint({"ext_1001", "ext_1002"})
    assert all(u.get("email") != "anon@old-domain.example" for u in users)

    memory = state["twilio_memory"]["stores"][STORE]["profiles"]
    held = memory[PROFILE_A]["identifiers"]
    assert not held.get("phone")
    assert not held.get("externalId")  # removed on the canonical profile after the 308
    assert held["email"] == ["jane@old-domain.example"]
    assert memory[PROFILE_MERGED]["merged_into"] == PROFILE_A

    (jane,) = [u for u in state["insider"]["users"] if u["insider_id"] == "iid_jane"]
    assert "name" not in jane.get("attributes", {})
    assert jane["attributes"]["surname"] == "Doe"
    assert jane["attributes"]["list_id"] == [1, 3]
    assert "tier" not in jane.get("custom_attributes", {})
    assert "uuid" not in jane["identifiers"]


def test_the_ledger_records_notes_for_partial_braze_batches_and_merged_profiles(project):
    assert project.cli("apply", "--auto-approve").code == 0
    results = [r for r in item_events(project.ledger_dir) if r["type"] == "result"]
    assert len(results) == ITEMS
    braze = [r for r in results if r["target"] == "brz" and r["code"] // 100 == 2]
    # ext_1001, ext_1002 and ext_missing went in one request: Braze deleted 2 of 3
    assert sum("2 of the 3" in (r.get("note") or "") for r in braze) == 3
    merged = [r for r in results if "canonical" in (r.get("note") or "")]
    assert len(merged) == 1 and merged[0]["status"] == "accepted"
    assert PROFILE_A[-2:] in merged[0]["note"]


def test_a_permanent_400_ends_rejected_exit_1_listed_and_not_resent(project, sandbox):
    project.write_specs(
        {
            "solo.yaml": removal(
                "solo-cleanup",
                "ins",
                # the user's sole identifier: Insider answers 400 every time
                {"absent": [{"identifiers": [{"type": "email", "value": "solo@example.com"}]}]},
            )
        }
    )
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    assert summary(result) == (*FIRST_APPLY, 0, 1)
    lines = [line for line in result.err.splitlines() if line.startswith("rejected:")]
    assert lines == [
        "rejected: ins: identifier email s***@example.com: HTTP 400: "
        "you cannot delete the sole identifier specified for a user: bad request"
    ]
    assert "solo@example.com" not in result.output  # masked, as everywhere

    sent = len(vendor_requests(sandbox))
    plan = project.plan_json()
    (solo,) = [a for a in plan["actions"] if a["state"] == "rejected"]
    assert solo["action"] == "none"
    again = project.cli("apply", "--auto-approve")
    assert again.code == 0 and "Nothing to send." in again.out
    assert len(vendor_requests(sandbox)) == sent
    project.assert_no_secrets()


def test_credentials_refused_stop_that_target_before_any_delete(project, sandbox):
    project.monkeypatch.setenv("E2E_SEGMENT_TOKEN", "sgp_a-token-the-sandbox-does-not-know")
    result = project.cli("apply", "--auto-approve", "--parallelism", "1")
    assert result.code == 1
    assert "Stopped sending to seg: preflight: Segment refused the credentials (HTTP 401)" in (
        result.err
    )
    segment = [e for e in vendor_requests(sandbox) if e["vendor"] == "segment"]
    # only the preflight read reached Segment: no delete, nothing recorded for its items
    assert [e["method"] for e in segment] == ["GET"]
    removed, accepted, absent, failed, rejected = summary(result)
    assert failed == 0 and rejected == 0
    assert "4 item(s) not sent: they stay pending." in result.err
    # the other targets carried on
    assert (removed, accepted, absent) == (0, 10, 1)
    plan = project.plan_json()
    states = [a["state"] for a in plan["actions"] if a["target"] == "seg"]
    assert states == ["pending"] * 4


def test_saved_plan_sends_exactly_its_actions(project, sandbox):
    assert project.cli("plan", "--out", "plan.json").code == 0
    saved = json.loads(project.cli("show", "plan.json", "--format", "json").out)
    result = project.cli("apply", "plan.json")  # a saved plan needs no approval
    assert result.code == 0, result.output
    assert summary(result) == (*FIRST_APPLY, 0, 0)
    ledger_fps = {r["fp"] for r in item_events(project.ledger_dir) if r["type"] == "intent"}
    assert ledger_fps == {item_key(a["fingerprint"]) for a in saved["actions"]}
    project.assert_no_secrets()


@pytest.mark.parametrize("edit", ["drop", "state"])
def test_saved_plan_edited_and_its_digest_recomputed_is_refused(project, sandbox, edit):
    """Without a key anyone can recompute the digest; apply still compares the plan it
    makes now with the saved one, item by item, and sends nothing when they differ."""
    assert project.cli("plan", "--out", "plan.json", "--target", "seg").code == 0
    path = project.root / "plan.json"
    data = path.read_bytes()
    length = int.from_bytes(data[10:14], "big")
    header = json.loads(data[14 : 14 + length])
    records = data[14 + length : -32]
    if edit == "drop":  # one item fewer, the count agreeing
        header["sections"][0]["count"] -= 1
        records = records[17:]
    else:  # the first item "done" (state 4) instead of pending: it would not be sent
        records = records[:16] + bytes((4,)) + records[17:]
    body = json.dumps(header, separators=(",", ":")).encode()
    start = data[:10] + len(body).to_bytes(4, "big") + body + records
    path.write_bytes(start + hashlib.sha256(b"reconciler/plan/file-digest/v2\n" + start).digest())
    result = project.cli("apply", "plan.json")
    assert result.code == 1
    assert "differs from the saved one (target seg)" in result.err
    assert vendor_requests(sandbox) == []
    assert not project.ledger_dir.exists()


def test_items_the_targets_settings_refuse_make_the_apply_finish_with_errors(project, sandbox):
    """An idType the store does not configure is refused before it is sent (its preflight
    read the store's settings): the summary line says so and apply exits 1, never
    "Apply complete!" with an item left behind."""
    project.write_specs(
        {
            "memory.yaml": removal(
                "memory-cleanup",
                "mem",
                {
                    "absent": [
                        {
                            "profile": {"profile_id": PROFILE_A},
                            "identifiers": [
                                {"type": "phone", "all_values": True},
                                {"type": "Email", "all_values": True},  # the store has email
                            ],
                        }
                    ]
                },
            )
        }
    )
    for name in ("segment.yaml", "braze.yaml", "insider.yaml"):
        (project.root / "specs" / name).unlink()
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1, result.output
    assert "Apply finished with errors: 1 not sent (refused by the target's settings)." in (
        result.out
    )
    assert "did you mean 'email'?" in result.err
    deletes = [e for e in vendor_requests(sandbox) if e["method"] == "DELETE"]
    assert len(deletes) == 1 and "phone" in deletes[0]["path"]
    states = sorted(a["state"] for a in project.plan_json()["actions"])
    assert states == ["accepted", "pending"]

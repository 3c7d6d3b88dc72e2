"""Evidence that is true, end to end against the sandbox: nothing is recorded `done` on an
answer that does not prove it, account-level answers stop the target, typos are caught
before anything is sent, and `ledger find` says which evidence an item has."""

from __future__ import annotations

import socket
import time
from copy import deepcopy
from typing import Any

import pytest

from tests.kit.e2e import (
    BRAZE_DELETE_ONLY_KEY,
    PROFILE_A,
    SEED,
    SPACE,
    item_events,
    removal,
    summary,
    vendor_requests,
)


def only(project: Any, manifests: dict[str, dict[str, Any]]) -> None:
    for path in (project.root / "specs").glob("*.yaml"):
        path.unlink()
    project.write_specs(manifests)


def results(project: Any) -> list[dict[str, Any]]:
    return item_events(project, "result")


def deletes(sandbox: Any, vendor: str | None = None) -> list[dict[str, Any]]:
    """The requests that could delete something (every read left out)."""
    reads = ("/users/export/ids", "/api/user/v1/profile")
    return [
        e
        for e in vendor_requests(sandbox)
        if e["method"] != "GET"
        and not e["path"].endswith(reads)
        and (vendor is None or e["vendor"] == vendor)
    ]


def seg(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {"segment.yaml": removal("seg-evidence", "seg", {"absent": entries})}


# -- typos never reach a vendor -----------------------------------------------------------------


def test_typos_are_refused_by_validate_before_anything_is_sent(project, sandbox):
    only(
        project,
        {
            "segment.yaml": removal(
                "seg-typo",
                "seg",
                {
                    "absent": [
                        {
                            "profile": {"user_id": "u_1001"},
                            "identifiers": [{"type": "emial", "value": "jane@old-domain.example"}],
                        }
                    ]
                },
            ),
            "insider.yaml": removal(
                "ins-typo",
                "ins",
                {"absent": [{"profile": {"uuid": "u-1001"}, "attributes": ["nmae"]}]},
            ),
        },
    )
    result = project.cli("validate")
    assert result.code == 1
    assert "'emial' is not an identifier type of this space; did you mean 'email'?" in result.err
    assert "'nmae' is not a standard Insider attribute; did you mean 'name'?" in result.err
    assert project.cli("apply", "--auto-approve").code == 1
    assert vendor_requests(sandbox) == []


def test_a_twilio_id_type_in_the_wrong_case_is_never_sent(project, sandbox):
    memory = removal(
        "mem-case",
        "mem",
        {
            "absent": [
                {
                    "profile": {"profile_id": PROFILE_A},
                    "identifiers": [{"type": "Phone", "all_values": True}],
                }
            ]
        },
    )
    only(project, {"memory.yaml": memory})
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    assert "did you mean 'phone'? (idTypes are case-sensitive)" in result.err
    assert deletes(sandbox) == []  # only the preflight's reads
    assert results(project) == []  # nothing recorded: it stays pending
    assert [a["state"] for a in project.plan_json()["actions"]] == ["pending"]


# -- a wrong base URL is never "already absent" -------------------------------------------------


@pytest.mark.parametrize(
    ("target", "vendor"),
    [("seg", "segment"), ("brz", "braze"), ("mem", "twilio_memory"), ("ins", "insider")],
)
def test_a_wrong_base_url_records_nothing_done_and_stops_the_target(
    project, sandbox, target, vendor
):
    # a base URL one path segment off: the host answers like a web server
    project.urls = {**project.urls, vendor: project.urls[vendor] + "/api-v2"}
    project.write_config()
    result = project.cli("apply", "--auto-approve", "--target", target)
    assert result.code == 1
    stopped = [line for line in result.err.splitlines() if line.startswith("Stopped sending")]
    assert len(stopped) == 1 and f"to {target}:" in stopped[0] and "base_url" in stopped[0]
    assert [r for r in results(project) if r["status"] == "done"] == []
    assert deletes(sandbox, vendor) == []  # the preflight caught it
    plan = project.plan_json("--target", target)
    assert {a["state"] for a in plan["actions"]} == {"pending"}


# -- answers that prove nothing ------------------------------------------------------------------


def test_an_unknown_segment_profile_is_not_recorded_absent(project, sandbox):
    only(
        project,
        seg(
            [
                {
                    "profile": {"user_id": "U_1001"},  # user_ids are case-sensitive
                    "identifiers": [{"type": "email", "value": "jane@old-domain.example"}],
                }
            ]
        ),
    )
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    assert "profile not found" in result.err and "check the user_id" in result.err
    (record,) = results(project)
    assert record["status"] == "rejected" and "evidence" not in record
    find = project.cli("ledger", "find", "--target", "seg", "--value", "jane@old-domain.example")
    assert "NOT REMOVED: rejected" in find.out


def test_a_wrong_twilio_profile_is_rejected_and_a_missing_type_is_absent(project, sandbox):
    other = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2zz"  # a profile the store does not hold
    memory = removal(
        "mem-404",
        "mem",
        {
            "absent": [
                {
                    "profile": {"profile_id": other},
                    "identifiers": [{"type": "phone", "all_values": True}],
                },
                {
                    "profile": {"profile_id": PROFILE_A},
                    "identifiers": [{"type": "fax", "all_values": True}],
                },
            ]
        },
    )
    only(project, {"memory.yaml": memory})
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    by_state = {r["status"]: r for r in results(project)}
    assert "check the profile_id" in by_state["rejected"]["message"]
    assert by_state["done"]["evidence"] == "absent"


def test_insider_number_array_values_from_a_csv_are_removed_for_real(project, sandbox):
    (project.root / "specs" / "lists.csv").write_text(
        "email,attribute,value\njane@old-domain.example,list_id,2\n"
    )
    only(
        project,
        {"insider.yaml": removal("ins-lists", "ins", {"absent_csv": ["lists.csv"]})},
    )
    result = project.cli("apply", "--auto-approve")
    assert result.code == 0, result.output
    (sent,) = deletes(sandbox, "insider")
    assert sent["path"].endswith("/attribute/delete")
    (user,) = [
        u for u in sandbox.control.state()["insider"]["users"] if u["insider_id"] == "iid_jane"
    ]
    assert user["attributes"]["list_id"] == [1, 3]  # the number 2 is gone, not a string "2"


def test_an_ambiguous_braze_email_is_not_recorded_accepted(project, sandbox):
    seed = deepcopy(SEED)
    seed["braze"]["users"] += [{"email": "twin@x.example"}, {"email": "twin@x.example"}]
    sandbox.control.reset(seed)
    braze = removal(
        "brz-twins",
        "brz",
        {
            "delete_profiles": True,
            "absent": [
                {"profile": {"email": "twin@x.example", "prioritization": ["unidentified"]}}
            ],
        },
    )
    only(project, {"braze.yaml": braze})
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    (record,) = results(project)
    assert record["status"] == "rejected"
    assert "2 users have this email" in record["message"]
    sandbox.control.settle()
    twins = [
        u for u in sandbox.control.state()["braze"]["users"] if u.get("email") == "twin@x.example"
    ]
    assert len(twins) == 2  # nobody was deleted
    plan = project.plan_json()
    assert [a["action"] for a in plan["actions"]] == ["none"]  # not sent again blindly


# -- the target, not the item ---------------------------------------------------------------------


def test_a_403_on_the_preflight_sends_no_deletion(project, sandbox):
    # a Braze key without users.export.ids: the preflight's export answers 403
    project.monkeypatch.setenv("E2E_BRAZE_KEY", BRAZE_DELETE_ONLY_KEY)
    project.env["E2E_BRAZE_KEY"] = BRAZE_DELETE_ONLY_KEY
    result = project.cli("apply", "--auto-approve", "--target", "brz")
    assert result.code == 1
    assert "Stopped sending to brz: preflight: Braze refused the permission (HTTP 403)" in (
        result.err
    )
    assert deletes(sandbox, "braze") == []
    assert results(project) == []


def test_a_closed_port_ends_within_seconds_for_3000_items(project, sandbox):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project.urls = {**project.urls, "segment": f"http://127.0.0.1:{port}/segment"}
    project.write_config()
    entries = [
        {
            "profile": {"user_id": f"u_{i}"},
            "identifiers": [{"type": "email", "value": f"a{i}@x.example"}],
        }
        for i in range(3000)
    ]
    only(project, seg(entries))
    started = time.monotonic()
    result = project.cli("apply", "--auto-approve", "--target", "seg")
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert elapsed < 30, elapsed
    assert "Stopped sending to seg: preflight: could not reach Segment" in result.err
    assert "3000 item(s) not sent: they stay pending." in result.err
    assert results(project) == []


# -- ledger find ----------------------------------------------------------------------------------


def test_ledger_find_tells_removed_absent_accepted_and_never_sent(project, sandbox):
    assert project.cli("apply", "--auto-approve").code == 0

    def verdict(*args: str) -> str:
        return project.cli("ledger", "find", *args).out.splitlines()[2]

    removed = verdict("--target", "seg", "--value", "jane@old-domain.example")
    assert removed.startswith("  REMOVED: the vendor confirmed the deletion")
    absent = verdict("--target", "seg", "--value", "never-there@x.example")
    assert absent.startswith("  ALREADY ABSENT")
    accepted = verdict("--target", "brz", "--profile", "external_id=ext_1001")
    assert accepted.startswith("  ACCEPTED, NOT CONFIRMED")
    never = project.cli(
        "ledger", "find", "--target", "seg", "--profile", "user_id=u_1001", "--type", "email",
        "--value", "someone-else@x.example",
    )  # fmt: skip
    assert never.code == 1 and "NOT FOUND in the ledger: never sent" in never.out


def test_apply_warns_when_most_items_come_back_already_absent(project, sandbox):
    entries = [
        {
            "profile": {"user_id": "u_1001"},
            "identifiers": [{"type": "email", "value": f"not-there-{i}@x.example"}],
        }
        for i in range(12)
    ]
    only(project, seg(entries))
    result = project.cli("apply", "--auto-approve")
    assert result.code == 0
    assert summary(result)[2] == 12
    assert "seg: 12 of 12 items were already absent" in result.err
    assert "wrong values" in result.err


def test_the_segment_apply_goes_through_the_same_space_once_each(project, sandbox):
    """The preflight is one read; every delete is sent once (none retried here)."""
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    log = [e for e in vendor_requests(sandbox) if e["vendor"] == "segment"]
    assert [e["method"] for e in log].count("GET") == 1
    assert f"/spaces/{SPACE}/" in log[0]["path"] and "reconciler-preflight" in log[0]["path"]
    posts = [e["path"] for e in log if e["method"] == "POST"]
    assert len(posts) == 4  # jane's email and phone, an absent email, omar's email

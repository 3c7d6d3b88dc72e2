"""`reconcile refresh` end to end against the sandbox: drift caught and removed again,
queued removals confirmed once the vendor ran its queue, read faults never change a
state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.kit.e2e import PROFILE_A, SPACE, STORE, Project, vendor_requests

PHONES = "every phone value on profile_id mem_profile_01**********************a1"


def states(project: Any) -> dict[str, str]:
    """description -> state, for every declared item."""
    return {a["description"]: a["state"] for a in project.plan_json()["actions"]}


def applied(project: Any, sandbox: Any) -> None:
    result = project.cli("apply", "--auto-approve")
    assert result.code == 0, result.output
    sandbox.control.settle()  # the vendors ran their queues


def test_drift_is_caught_listed_removed_again_and_then_gone(project, sandbox):
    applied(project, sandbox)
    # an event replay brings two identifiers back, a trait promotes a Twilio value again
    sandbox.control.reintroduce(
        {"vendor": "segment", "space_id": SPACE, "user_id": "u_1001", "type": "email",
         "id": "jane@old-domain.example"}
    )  # fmt: skip
    sandbox.control.reintroduce(
        {"vendor": "twilio_memory", "store_id": STORE, "profile_id": PROFILE_A,
         "id_type": "phone", "value": "+15555550100"}
    )  # fmt: skip
    # --queue-window 0: the queues ran (settled above), so a value read back came back
    first = project.cli("refresh", "--min-age", "0", "--queue-window", "0", "--detailed-exitcode")
    assert first.code == 2, first.output
    assert "2 back again (drifted)" in first.out
    now = states(project)
    drifted = sorted(d for d, s in now.items() if s == "drifted")
    assert drifted == [
        "email j***@old-domain.example on user_id u_**01",
        "every phone value on profile_id mem_profile_01**********************a1",
    ]
    plan = project.cli("plan")
    assert "Objects have changed outside of reconciler" in plan.out
    assert "reintroduced after removal (seen at 20" in plan.out
    assert "Plan: 2 to remove" in plan.out
    again = project.cli("apply", "--auto-approve")
    assert again.code == 0, again.output
    sandbox.control.settle()
    second = project.cli(
        "refresh",
        "--min-age",
        "0",
        "--queue-window",
        "0",
        "--detailed-exitcode",
        "--format",
        "json",
    )
    assert second.code == 0, second.output
    summary = json.loads(second.out)["summary"]
    assert summary["drifted"] == 0
    assert project.cli("ledger", "verify").code == 0


@pytest.fixture(scope="module")
def slow_queues(credentials_file: Path) -> Iterator[Sandbox]:
    """A sandbox whose Braze and Twilio queues run only when settled."""
    opts = options(credentials_file)
    opts.braze_removal_delay = 3600.0
    opts.twilio_removal_delay = 3600.0
    with Sandbox(opts) as sb:
        yield sb


def test_queued_removals_stay_accepted_until_the_vendor_ran_its_queue(
    tmp_path, slow_queues, capsys, monkeypatch
):
    slow_queues.control.reset()
    project = Project(tmp_path, slow_queues.urls, capsys, monkeypatch)
    project.write_config()
    project.write_specs()
    result = project.cli("apply", "--auto-approve")
    assert result.code == 0, result.output
    # before the queues ran: Braze still holds its users, Twilio its values
    early = project.cli("refresh", "--min-age", "0")
    assert early.code == 0, early.output
    after_early = states(project)
    assert after_early["user profile external_id ex****01"] == "accepted"
    assert after_early[PHONES] == "accepted"
    assert "0 back again" in early.out and "still queued" in early.out
    slow_queues.control.settle()
    late = project.cli("refresh", "--min-age", "0", "--format", "json")
    assert late.code == 0, late.output
    after = states(project)
    assert after["user profile external_id ex****01"] == "done"
    assert after[PHONES] == "done"
    find = project.cli("ledger", "find", "--target", "brz", "--profile", "external_id=ext_1001")
    assert "REMOVED: a read of the vendor confirmed it is gone" in find.out


def test_read_faults_never_make_drift_or_a_false_confirmation(project, sandbox):
    applied(project, sandbox)
    seq = vendor_requests(sandbox)[-1]["seq"]
    # half the reads meet a 503 or a 429 storm; retries get some through
    for vendor in ("segment", "braze", "twilio_memory", "insider"):
        sandbox.control.set_faults(vendor, fail_rate=0.3, throttle_rate=0.3)
    project.cli("refresh", "--min-age", "0", "--queue-window", "0")
    after = states(project)
    # everything was really removed (settled): nothing may read as back again, and an
    # item is only ever confirmed (done), never moved on a failed read
    assert "drifted" not in after.values()
    assert set(after.values()) <= {"done", "accepted"}
    reads = vendor_requests(sandbox, since=seq)
    assert {e["status"] for e in reads} & {429, 503}, "the faults were injected"
    assert project.cli("ledger", "verify").code == 0


def test_refresh_sends_no_deletion_and_min_age_skips_recent_items(project, sandbox):
    applied(project, sandbox)
    seq = vendor_requests(sandbox)[-1]["seq"]
    skipped = project.cli("refresh")  # default --min-age 5m: everything was just recorded
    assert skipped.code == 0
    assert "15 too recent to read" in skipped.out
    assert vendor_requests(sandbox, since=seq) == []
    project.cli("refresh", "--min-age", "0")
    methods = {
        (e["method"], e["path"].rsplit("/", 1)[-1]) for e in vendor_requests(sandbox, since=seq)
    }
    assert ("DELETE", "phone") not in methods and ("POST", "delete") not in methods
    project.assert_no_secrets()


def test_plan_and_apply_refresh_first(project, sandbox):
    applied(project, sandbox)
    plan = project.cli("plan", "--refresh")
    assert plan.code == 0, plan.output
    # refresh ran first (nothing old enough to read yet), then the plan
    assert "Refresh: nothing to read." in plan.err and "15 too recent to read" in plan.err
    assert plan.out.rstrip().endswith(
        "No changes. Every declared absence is already recorded in the ledger."
    )
    apply = project.cli("apply", "--refresh", "--auto-approve")
    assert apply.code == 0 and "Refresh complete!" in apply.err
    refused = project.cli("apply", "--refresh", "plan.json")
    assert refused.code == 1 and "would make it stale" in refused.err


def test_an_interrupted_refresh_run_again_reads_only_what_it_had_not_read(
    project, sandbox, monkeypatch
):
    from tests.e2e.test_second_person import skewed

    with monkeypatch.context() as clock:
        skewed(clock, 2025)  # applied a year ago: every item is old enough to read
        applied(project, sandbox)
    seq = vendor_requests(sandbox)[-1]["seq"]
    # the first run stops after some items (as if killed: what it read is recorded)
    first = project.cli("refresh", "--min-age", "1h", "--sample", "5", "--seed", "7")
    assert first.code == 0, first.output
    assert "0 too recent" in first.out
    read_first = len(vendor_requests(sandbox, since=seq))
    seq = vendor_requests(sandbox)[-1]["seq"]
    # run again: what was read within --min-age is skipped, the rest is read
    second = project.cli("refresh", "--min-age", "1h", "--format", "json")
    assert second.code == 0, second.output
    report = json.loads(second.out)
    assert report["summary"]["too_recent"] == 5, report["summary"]
    read_second = len(vendor_requests(sandbox, since=seq))
    assert read_first > 0 and read_second > 0
    # a third run reads only what no read could settle (an Insider custom attribute
    # whose absence the profile read cannot prove): an unverified read is tried again
    seq = vendor_requests(sandbox)[-1]["seq"]
    third = project.cli("refresh", "--min-age", "1h")
    assert "1 unverified, 14 too recent to read" in third.out, third.out
    assert {e["vendor"] for e in vendor_requests(sandbox, since=seq)} == {"insider"}

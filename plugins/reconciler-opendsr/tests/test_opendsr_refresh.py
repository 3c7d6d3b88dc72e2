"""End to end: `reconcile refresh` reads each erasure's status back through the plugin's
Reader (real CLI, real HTTP to the emulator): completed is confirmed, cancelled is found
back (drifted) and planned again, pending proves nothing yet."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import KEY, SECRET, Project
from reconciler_opendsr.emulator import Emulator, EmulatorOptions
from test_opendsr_cli import applied, creates, write_subjects

READ_NOW = ("--min-age", "1s", "--queue-window", "1s", "--format", "json")


def test_refresh_confirms_completed_erasures_and_finds_cancelled_ones(tmp_path: Path) -> None:
    # a processor that takes its time: the test decides each request's status
    with Emulator(EmulatorOptions(key=KEY, secret=SECRET, delay=3600)) as emulator:
        project = Project(tmp_path, emulator)
        project.write_config()
        write_subjects(project)
        apply = project.cli("apply", "--auto-approve")
        assert apply.code == 0, apply.output
        assert applied(apply) == (0, 3, 0)
        held = emulator.state()["requests"]
        by_types = {tuple(r["identity_types"]): rid for rid, r in held.items()}
        both = by_types[("controller_customer_id", "email")]
        first, second = sorted(rid for rid in held if rid != both)
        emulator.force(both, "completed")
        emulator.force(first, "cancelled")  # someone cancelled it at the processor
        time.sleep(1.1)  # older than --min-age and --queue-window

        refresh = project.cli("refresh", *READ_NOW, "--detailed-exitcode")
        assert refresh.code == 2, refresh.output  # drift found
        report = json.loads(refresh.out)
        summary = report["summary"]
        assert (summary["confirmed"], summary["drifted"], summary["unverified"]) == (1, 1, 1)
        assert report["unverified_because"] == {"the erasure is pending at the processor": 1}
        reads = [e for e in emulator.state()["log"] if e["method"] == "GET"]
        assert sum("_requests/" in str(e["path"]) for e in reads) == 3  # one status read each

        plan = project.plan_json()
        states = sorted(a["state"] for a in plan["actions"])
        assert states == ["accepted", "done", "drifted"]
        assert plan["summary"]["to_remove"] == 1

        # sent again: the same id, refused as a duplicate, and its status says cancelled
        again = project.cli("apply", "--auto-approve")
        assert again.code == 1, again.output
        assert "1 rejected" in again.out
        assert "was cancelled: not erased. Its id is spent" in again.output
        assert len(creates(emulator)) == 4 and len(emulator.state()["requests"]) == 3

        emulator.force(second, "completed")
        time.sleep(1.1)
        later = json.loads(project.cli("refresh", *READ_NOW).out)["summary"]
        assert later["confirmed"] == 1  # the one that was pending
        final = sorted(a["state"] for a in project.plan_json()["actions"])
        assert final == ["done", "done", "rejected"]


def test_a_refresh_that_cannot_read_changes_nothing(project: Project, emulator: Emulator) -> None:
    write_subjects(project)
    assert project.cli("apply", "--auto-approve").code == 0
    time.sleep(1.1)
    project.env["E2E_OPENDSR_CREDENTIALS"] = f"{KEY}:wrong"  # the preflight is refused
    refused = project.cli("refresh", *READ_NOW)
    assert refused.code == 1
    assert json.loads(refused.out)["stopped"]
    log = emulator.state()["log"]
    assert not [e for e in log if e["method"] == "GET" and "_requests/" in str(e["path"])]
    assert [e["status"] for e in log if e["path"].endswith("/discovery")] == [200, 401]
    assert sorted(a["state"] for a in project.plan_json()["actions"]) == ["accepted"] * 3

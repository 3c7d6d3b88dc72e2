"""A cut ledger never leads to a re-send (issue 17, "Cutting the tail is invisible"):
remove the last records of the newest run, everything after its first intent, rename
the newest run file to .jsonl.bak, or delete it. In git, what was committed shows the
cut; a saved plan carries the head it was made at. Against the sandbox, counting
requests in its log."""

from __future__ import annotations

import shutil
import subprocess
from copy import deepcopy
from pathlib import Path

import pytest

from reconciler.ledger.store import run_files
from tests.kit.e2e import SEED, SPACE, removal, vendor_requests
from tests.ledger.sealed import lines_of, write_lines

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def cut_last_records(path: Path) -> None:
    write_lines(path, lines_of(path)[:-2])


def cut_after_first_intent(path: Path) -> None:
    lines = lines_of(path)
    first = next(i for i, line in enumerate(lines) if b'"type":"intent"' in line)
    write_lines(path, lines[: first + 1])


def rename_bak(path: Path) -> None:
    path.rename(path.with_suffix(".jsonl.bak"))


def delete(path: Path) -> None:
    path.unlink()


CUTS = [cut_last_records, cut_after_first_intent, rename_bak, delete]


def newest_run(project) -> Path:
    return run_files(project.ledger_dir)[-1]


def apply_segment(project) -> None:
    first = project.cli("apply", "--auto-approve", "--target", "seg")
    assert first.code == 0, first.output


@pytest.mark.parametrize("cut", CUTS, ids=lambda f: f.__name__)
def test_a_cut_of_the_committed_ledger_is_refused_and_nothing_is_resent(project, sandbox, cut):
    git(project.root, "init", "-q")
    apply_segment(project)
    git(project.root, "add", "-A")
    git(project.root, "commit", "-qm", "apply")
    commit = git(project.root, "rev-parse", "--short", "HEAD")
    sent = len(vendor_requests(sandbox))
    assert project.cli("plan", "--target", "seg", "--detailed-exitcode").code == 0

    cut(newest_run(project))
    verify = project.cli("ledger", "verify")
    assert verify.code == 1 and commit in verify.err, verify.output
    plan = project.cli("plan", "--target", "seg")
    assert plan.code == 1 and "the ledger does not verify" in plan.err and commit in plan.err
    again = project.cli("apply", "--auto-approve", "--target", "seg")
    assert again.code == 1 and "nothing was sent" in again.err
    assert len(vendor_requests(sandbox)) == sent  # zero re-sends

    git(project.root, "checkout", "--", "state/ledger")  # what the error says to do
    for leftover in project.ledger_dir.glob("runs/*.bak"):
        leftover.unlink()
    assert project.cli("ledger", "verify").code == 0
    done = project.cli("apply", "--auto-approve", "--target", "seg")
    assert done.code == 0 and "Nothing to send." in done.out
    assert len(vendor_requests(sandbox)) == sent


@pytest.mark.parametrize("cut", CUTS, ids=lambda f: f.__name__)
def test_a_saved_plan_refuses_a_ledger_cut_after_it_was_made(project, sandbox, cut):
    """No git here: the saved plan's head is what the ledger must still hold."""
    apply_segment(project)
    assert project.cli("plan", "--out", "plan.json").code == 0
    sent = len(vendor_requests(sandbox))
    cut(newest_run(project))
    refused = project.cli("apply", "plan.json")
    assert refused.code == 1, refused.output
    assert "Saved plan is stale: the ledger no longer holds the newest record" in refused.err
    assert len(vendor_requests(sandbox)) == sent


def test_a_segment_apply_costs_under_120_ledger_bytes_per_item(project, sandbox):
    """Issue 11: the real engine against the sandbox, one item a request: intents
    announced 64 at a time, answers grouped (request ids and evidence included)."""
    users = [f"u_bytes_{i:04d}" for i in range(300)]
    seed = deepcopy(SEED)
    seed["segment"]["spaces"][SPACE]["profiles"] = [
        {"external_ids": [{"type": "user_id", "id": u}, {"type": "email", "id": f"{u}@x.example"}]}
        for u in users
    ]
    sandbox.control.reset(seed)
    try:
        _apply_and_measure(project, users)
    finally:
        sandbox.control.reset(SEED)  # the shared sandbox's own seed, for the next tests


def _apply_and_measure(project, users: list[str]) -> None:
    entries = [
        {"profile": {"user_id": u}, "identifiers": [{"type": "email", "value": f"{u}@x.example"}]}
        for u in users
    ]
    project.write_specs({"bulk.yaml": removal("bulk", "seg", {"absent": entries})})
    for name in ("segment.yaml", "braze.yaml", "memory.yaml", "insider.yaml"):
        (project.root / "specs" / name).unlink()
    result = project.cli("apply", "--auto-approve", "--target", "seg")
    assert result.code == 0, result.output
    files = run_files(project.ledger_dir)
    size = sum(p.stat().st_size for p in files)
    assert size / len(users) < 120, size / len(users)
    assert project.cli("ledger", "verify").code == 0
    plan = project.plan_json("--target", "seg")
    assert {a["state"] for a in plan["actions"]} == {"done"}

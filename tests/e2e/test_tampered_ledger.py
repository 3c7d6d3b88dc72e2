"""Apply refuses to send on top of a ledger whose history does not verify."""

from __future__ import annotations

from reconciler.ledger.store import run_files
from tests.kit.e2e import vendor_requests


def test_apply_refuses_an_edited_ledger_and_sends_nothing(project, sandbox):
    first = project.cli("apply", "--auto-approve", "--target", "seg")
    assert first.code == 0, first.output
    (run,) = run_files(project.ledger_dir)
    lines = run.read_text().splitlines(keepends=True)
    # someone turns a failed result into done, or edits any line: the chain breaks
    lines[2] = lines[2].replace('"ts":"', '"ts":"1', 1)
    run.write_text("".join(lines))
    before = len(vendor_requests(sandbox))
    second = project.cli("apply", "--auto-approve", "--target", "brz")
    assert second.code == 1
    assert "the ledger does not verify" in second.err and "nothing was sent" in second.err
    assert len(vendor_requests(sandbox)) == before
    assert len(run_files(project.ledger_dir)) == 1  # no new run was recorded
    assert not (project.ledger_dir / ".lock").exists()  # and the lock was released


def test_apply_with_ignore_ledger_errors_goes_on_and_says_so(project, sandbox):
    first = project.cli("apply", "--auto-approve", "--target", "seg")
    assert first.code == 0, first.output
    (run,) = run_files(project.ledger_dir)
    lines = run.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"ts":"', '"ts":"1', 1)
    run.write_text("".join(lines))
    before = len(vendor_requests(sandbox))
    second = project.cli("apply", "--auto-approve", "--target", "brz", "--ignore-ledger-errors")
    assert second.code == 0, second.output
    assert "Warning: --ignore-ledger-errors: the ledger does not verify" in second.err
    assert len(vendor_requests(sandbox)) > before  # the Braze items went
    # the break stays in the history: plan still refuses without the flag
    assert project.cli("plan").code == 1

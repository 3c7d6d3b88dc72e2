"""`reconcile ledger resolve` end to end: a Braze delete by email whose answer proved
nothing is held (a re-send could delete a second person); a person who checked Braze
records the decision, and plan, show, find and verify follow it. Against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.cli import CliResult
from tests.kit.e2e import SEED, Project, item_events, removal

EMAIL = "held-once@old-domain.example"
USERS = [
    {"external_id": "held-1", "email": EMAIL, "updated_at": "2026-01-01T00:00:00Z"},
    {"external_id": "held-2", "email": EMAIL, "updated_at": "2026-01-02T00:00:00Z"},
]
HELD = {
    "brz.yaml": removal(
        "held-email",
        "brz",
        {
            "delete_profiles": True,
            "absent": [{"profile": {"email": EMAIL, "prioritization": ["most_recently_updated"]}}],
        },
    )
}


def deletes(sandbox: Any) -> int:
    return sum(1 for e in sandbox.control.requests() if e["path"].endswith("/users/delete"))


def apply_answered_503(project: Project, sandbox: Any) -> CliResult:
    """Apply HELD once with every Braze delete answered 503 (the reads spared)."""
    project.write_specs(HELD)
    seed = sandbox.control.state()
    seed["braze"]["users"] = USERS
    sandbox.control.reset(seed)
    sandbox.control.set_faults("braze", fail_rate=1.0, faults_on_reads=0)
    try:
        return project.cli("apply", "--auto-approve")
    finally:
        sandbox.control.set_faults("braze", fail_rate=0.0)


def held_item(project: Project, sandbox: Any) -> str:
    """Apply once with every Braze delete answered 503: the answer proves nothing, so the
    item is unknown and held. Returns its fingerprint."""
    first = apply_answered_503(project, sandbox)
    assert first.code == 1, first.output
    (action,) = project.plan_json()["actions"]
    assert (action["state"], action["action"]) == ("unknown", "hold"), action
    return str(action["fingerprint"])


@pytest.fixture
def braze_only(project: Project, sandbox: Any) -> Iterator[Project]:
    for path in (project.root / "specs").iterdir():
        path.unlink()
    yield project
    # held_item re-seeds the shared sandbox: later tests get the usual seed back
    sandbox.control.reset(SEED)


def test_a_held_item_resolved_done_is_no_longer_held_and_says_who_and_why(
    braze_only: Project, sandbox: Any
) -> None:
    project = braze_only
    fp = held_item(project, sandbox)
    sent = deletes(sandbox)
    result = project.cli(
        "ledger",
        "resolve",
        fp[:10],
        "--as",
        "done",
        "--reason",
        "PRIV-1234: user held-2 gone in the Braze dashboard, checked by jo@example.com",
        "--by",
        "ana@privacy.example",
        "--force",
    )
    assert result.code == 0, result.output
    assert "Recorded: 1 item(s) resolved as done by ana@privacy.example" in result.out
    assert "recorded masked" in result.err  # the email in the reason

    plan = project.plan_json()
    (action,) = plan["actions"]
    assert (action["state"], action["action"]) == ("done", "none")
    assert plan["summary"]["held"] == 0
    again = project.cli("apply", "--auto-approve")
    assert again.code == 0 and "Nothing to send." in again.out
    assert deletes(sandbox) == sent  # nothing sent after the decision

    show = project.cli("ledger", "show", fp[:12])
    assert show.code == 0, show.output
    assert "evidence: resolved" in show.out
    (decision,) = [line for line in show.out.splitlines() if "resolution" in line]
    assert "ana@privacy.example" in decision and "PRIV-1234" in decision
    assert "jo@example.com" not in show.out and "jo@example.com" not in project.files_text()
    find = project.cli("ledger", "find", "--target", "brz", "--value", EMAIL)
    assert find.code == 0, find.output
    assert "DONE by a person's decision" in find.out
    verify = project.cli("ledger", "verify")
    assert verify.code == 0, verify.output
    (event,) = item_events(project, "resolution")
    assert (event["as"], event["who"]) == ("done", "ana@privacy.example")


def test_a_held_item_resolved_pending_is_sent_again_once(braze_only: Project, sandbox: Any) -> None:
    project = braze_only
    fp = held_item(project, sandbox)
    sent = deletes(sandbox)
    result = project.cli(
        "ledger",
        "resolve",
        fp,
        "--as",
        "pending",
        "--reason",
        "the 503 came from the load balancer: Braze never saw it (support case 88)",
        "--force",
    )
    assert result.code == 0, result.output
    assert "sends these again" in result.err  # the warning about non-idempotent deletes
    (action,) = project.plan_json()["actions"]
    assert (action["state"], action["action"]) == ("pending", "remove")
    applied = project.cli("apply", "--auto-approve")
    assert applied.code == 0, applied.output
    assert deletes(sandbox) == sent + 1
    sandbox.control.settle()
    left = [u for u in sandbox.control.state()["braze"]["users"] if u.get("email") == EMAIL]
    assert len(left) == 1  # one person deleted, not two
    assert project.cli("ledger", "verify").code == 0


def test_resolve_refuses_what_it_cannot_settle_and_writes_nothing(
    braze_only: Project, sandbox: Any
) -> None:
    project = braze_only
    fp = held_item(project, sandbox)
    before = project.files_text()

    def refused(*args: str) -> str:
        result = project.cli("ledger", "resolve", *args)
        assert result.code == 1, result.output
        assert "Traceback" not in result.output
        return result.err

    reason = ("--reason", "checked")
    assert "no item with fingerprint ffff" in refused("ffff", "--as", "done", *reason, "--force")
    assert "--reason is empty" in refused(fp, "--as", "done", "--reason", "  ", "--force")
    assert "U+001B" in refused(fp, "--as", "done", "--reason", "a\x1b[31m", "--force")
    assert "at most 500" in refused(fp, "--as", "done", "--reason", "x" * 501, "--force")
    # no terminal to confirm on (pytest's stdin), and no --force
    assert "run with --force" in refused(fp, "--as", "done", *reason)
    assert project.files_text() == before  # nothing recorded by any of them

    # a done item is not settled by hand
    project.cli("ledger", "resolve", fp, "--as", "done", *reason, "--force")
    assert "is done, not unknown" in refused(fp, "--as", "pending", *reason, "--force")


def test_held_items_are_counted_everywhere_and_exit_4_until_a_person_decides(
    braze_only: Project, sandbox: Any
) -> None:
    """Held items are part of every summary, and "needs a person" is exit 4 (README: Exit
    codes): apply with only held items left did all it may, but is not done."""
    project = braze_only
    fp = held_item(project, sandbox)
    sent = deletes(sandbox)

    plan = project.cli("plan", "--detailed-exitcode")
    assert plan.code == 4, plan.output
    assert "0 to remove, 0 already removed, 0 unknown, 0 to retry, 1 held" in plan.out
    assert plan.out.rstrip().splitlines()[-1].startswith("No changes. 1 item(s) are held")
    markdown = project.cli("plan", "--format", "markdown", "--detailed-exitcode")
    assert markdown.code == 4 and "| held |" in markdown.out
    assert project.plan_json()["summary"]["held"] == 1

    apply = project.cli("apply", "--auto-approve")
    assert apply.code == 4, apply.output
    assert "Nothing to send." in apply.out
    assert "1 item(s) held for a person, not sent" in apply.err
    assert "reconcile ledger resolve" in apply.err
    assert deletes(sandbox) == sent  # held: never sent again

    resolved = project.cli(
        "ledger", "resolve", fp[:10], "--as", "done", "--reason", "checked", "--force"
    )
    assert resolved.code == 0, resolved.output
    assert project.cli("plan", "--detailed-exitcode").code == 0
    assert project.cli("apply", "--auto-approve").code == 0


def test_an_apply_that_left_an_item_unknown_says_it_finished_with_errors(
    braze_only: Project, sandbox: Any
) -> None:
    first = apply_answered_503(braze_only, sandbox)
    assert first.code == 1, first.output
    assert "Apply complete!" not in first.out
    assert (
        "Apply finished with errors: 1 left unknown. Items: 0 removed, 0 accepted "
        "(asynchronous), 0 already absent, 0 failed, 0 rejected, 1 unknown, 0 held."
    ) in first.out

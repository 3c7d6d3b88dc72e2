"""What stops an apply before anything is sent: limits, missing secrets, nobody to ask,
another run holding the lock."""

from __future__ import annotations

from reconciler.cli.commands.apply import PROMPT
from reconciler.ledger.lock import acquire, read_lock, release
from tests.kit.e2e import ENV, FIRST_APPLY, ITEMS, summary, vendor_requests
from tests.ledger.test_lock import dead_pid, plant_lock


def nothing_happened(project, sandbox) -> None:
    assert vendor_requests(sandbox) == []
    assert not (project.ledger_dir / "header.jsonl").exists()
    assert not (project.ledger_dir / "runs").exists()
    assert read_lock(project.ledger_dir) is None


def test_max_deletions_flag_refuses_before_anything_is_sent(project, sandbox):
    result = project.cli("apply", "--auto-approve", "--max-deletions", str(ITEMS - 1))
    assert result.code == 1
    assert f"the plan sends {ITEMS} deletions, more than the limit of {ITEMS - 1}" in result.err
    assert "nothing was sent" in result.err
    nothing_happened(project, sandbox)
    # at the limit it goes
    ok = project.cli("apply", "--auto-approve", "--max-deletions", str(ITEMS))
    assert ok.code == 0, ok.output


def test_max_deletions_in_the_config_refuses_too_and_the_flag_overrides_it(project, sandbox):
    project.write_config(max_deletions=3)
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    assert "more than the limit of 3" in result.err
    nothing_happened(project, sandbox)
    assert project.cli("apply", "--auto-approve", "--max-deletions", "100").code == 0


def test_max_deletions_applies_to_a_saved_plan(project, sandbox):
    assert project.cli("plan", "--out", "p.json").code == 0
    result = project.cli("apply", "p.json", "--max-deletions", "2")
    assert result.code == 1 and "more than the limit of 2" in result.err
    nothing_happened(project, sandbox)


def test_a_missing_secret_fails_naming_the_variable_before_anything_is_sent(project, sandbox):
    project.unset("E2E_TWILIO_TOKEN")
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1
    assert "E2E_TWILIO_TOKEN" in result.err
    assert "is not set" in result.err
    nothing_happened(project, sandbox)  # not even the targets whose secrets are there
    project.assert_no_secrets()


def test_an_empty_secret_counts_as_missing(project, sandbox):
    project.monkeypatch.setenv("E2E_BRAZE_KEY", "")
    result = project.cli("apply", "--auto-approve")
    assert result.code == 1 and "E2E_BRAZE_KEY" in result.err
    nothing_happened(project, sandbox)


def test_a_secret_of_a_target_with_nothing_to_send_is_not_needed(project, sandbox):
    project.unset("E2E_BRAZE_KEY")
    result = project.cli("apply", "--auto-approve", "--target", "seg")
    assert result.code == 0, result.output
    assert {e["vendor"] for e in vendor_requests(sandbox)} == {"segment"}


def test_without_a_terminal_or_auto_approve_it_refuses_and_never_prompts(project, sandbox):
    result = project.cli("apply")  # pytest's stdin is not a terminal
    assert result.code == 1
    assert "standard input is not a terminal" in result.err
    assert "--auto-approve" in result.err
    assert PROMPT not in result.output
    nothing_happened(project, sandbox)


def test_without_a_terminal_as_a_real_process(project, sandbox):
    proc = project.popen("apply")  # stdin is /dev/null
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "standard input is not a terminal" in err
    assert PROMPT not in out + err
    nothing_happened(project, sandbox)
    for secret in ENV.values():
        assert secret not in out + err


def test_a_held_lock_refuses_with_its_id_and_sends_nothing(project, sandbox):
    held = acquire(project.ledger_dir, "apply", "someone-else@ci")
    try:
        result = project.cli("apply", "--auto-approve")
        assert result.code == 1
        assert "the ledger is locked by another run; nothing was sent" in result.err
        assert f"ID: {held.id}" in result.err
        assert f"reconcile ledger unlock {held.id}" in result.err
        assert "someone-else@ci" in result.err
        assert vendor_requests(sandbox) == []
        assert not (project.ledger_dir / "runs").exists()
        assert read_lock(project.ledger_dir) == held  # untouched
        # a saved plan is refused the same way
        assert project.cli("plan", "--out", "p.json").code == 0
        saved = project.cli("apply", "p.json")
        assert saved.code == 1 and held.id in saved.err
        assert vendor_requests(sandbox) == []
    finally:
        release(project.ledger_dir, held)
    result = project.cli("apply", "--auto-approve")
    assert result.code == 0, result.output
    assert summary(result) == (*FIRST_APPLY, 0, 0)
    assert read_lock(project.ledger_dir) is None  # apply released its own lock


def test_a_lock_left_by_a_killed_run_is_cleared_by_unlock_force(project, sandbox):
    held = plant_lock(project.ledger_dir, pid=dead_pid(), who="ghost@host")
    assert project.cli("apply", "--auto-approve").code == 1
    wrong = project.cli("ledger", "unlock", "0000000000000000", "--force")
    assert wrong.code == 1 and read_lock(project.ledger_dir) == held
    unlock = project.cli("ledger", "unlock", held.id, "--force")
    assert unlock.code == 0, unlock.output
    assert read_lock(project.ledger_dir) is None
    assert project.cli("apply", "--auto-approve").code == 0


def on_a_terminal(project, *args: str, answer: str) -> tuple[int, str]:
    """`reconcile ARGS` with a pseudo-terminal as stdin, typing `answer` at the prompt."""
    import os
    import pty
    import select
    import time

    leader, follower = pty.openpty()
    proc = project.popen(*args, stdin=follower)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    typed = False
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([leader, proc.stdout], [], [], 0.2)
        if proc.stdout in ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            seen += chunk
            if not typed and PROMPT.encode() in seen:
                os.write(leader, answer.encode() + b"\n")
                typed = True
    out, err = proc.communicate(timeout=30)
    os.close(leader)
    return proc.returncode, seen.decode() + out + err


def test_on_a_terminal_it_asks_and_anything_but_yes_sends_nothing(project, sandbox):
    code, output = on_a_terminal(project, "apply", answer="y")
    assert PROMPT in output
    assert code == 1
    assert "Apply cancelled. Nothing was sent." in output
    nothing_happened(project, sandbox)


def test_on_a_terminal_yes_applies(project, sandbox):
    code, output = on_a_terminal(project, "apply", answer="yes")
    assert PROMPT in output
    assert code == 0, output
    assert "Apply complete! Items: 3 removed, 10 accepted" in output


def test_on_a_terminal_a_plan_over_the_limit_is_refused_without_asking(project, sandbox):
    code, output = on_a_terminal(project, "apply", "--max-deletions", "1", answer="yes")
    assert code == 1
    assert "more than the limit of 1" in output
    assert PROMPT not in output
    nothing_happened(project, sandbox)


def test_on_a_terminal_a_missing_secret_fails_without_asking(project, sandbox):
    project.unset("E2E_INSIDER_TOKEN")
    code, output = on_a_terminal(project, "apply", answer="yes")
    assert code == 1
    assert "E2E_INSIDER_TOKEN" in output
    assert PROMPT not in output
    nothing_happened(project, sandbox)

"""One writer at a time: the lock, its refusal message, unlock, and the stale hint."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.ledger.lock import (
    LockHeld,
    LockInfo,
    acquire,
    force_unlock,
    lock_path,
    read_lock,
    release,
)
from reconciler.ledger.store import read_ledger
from reconciler.ledger.verify import verify_ledger
from tests.kit.cli import run_cli
from tests.kit.ledger import KEY_ENV, Proj, write_run

SECRETS = (
    "SEGMENT_TOKEN",
    "BRAZE_API_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "INSIDER_REQUEST_TOKEN",
)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def plant_lock(ledger_dir: Path, **changes: object) -> LockInfo:
    """A lock left by someone else: written as acquire writes it, with `changes`."""
    info = acquire(ledger_dir, "apply", "someone@ci")
    info = replace(info, **changes)  # type: ignore[arg-type]
    lock_path(ledger_dir).write_text(json.dumps(asdict(info)), encoding="utf-8")
    return info


def test_second_acquire_is_refused_with_id_and_how_to_unlock(proj: Proj) -> None:
    first = acquire(proj.ledger_dir, "apply", "alice@laptop")
    with pytest.raises(LockHeld) as caught:
        acquire(proj.ledger_dir, "refresh", "bob@ci")
    message = str(caught.value)
    assert caught.value.info == first
    assert f"ID: {first.id}" in message
    assert f"reconcile ledger unlock {first.id}" in message
    assert "Who: alice@laptop" in message and "Operation: apply" in message
    assert "nothing was sent" in message
    # our own process is alive: no stale hint
    assert "stale" not in message
    # the refused acquire left the first lock intact
    assert read_lock(proj.ledger_dir) == first


def test_lock_file_holds_who_where_when(proj: Proj) -> None:
    info = acquire(proj.ledger_dir, "apply", "alice@laptop")
    data = json.loads(lock_path(proj.ledger_dir).read_text())
    assert data["id"] == info.id and len(info.id) == 16
    assert data["host"] == socket.gethostname()
    assert data["pid"] > 0 and data["created"] and data["version"]
    assert data["operation"] == "apply" and data["who"] == "alice@laptop"


def test_release_removes_only_our_own_lock(proj: Proj) -> None:
    mine = acquire(proj.ledger_dir, "apply", "me")
    release(proj.ledger_dir, replace(mine, id="0" * 16))
    assert read_lock(proj.ledger_dir) == mine
    release(proj.ledger_dir, mine)
    assert read_lock(proj.ledger_dir) is None
    again = acquire(proj.ledger_dir, "apply", "me")  # free again
    assert again.id != mine.id


def test_lock_is_not_part_of_the_ledger(proj: Proj) -> None:
    proj.create_ledger()
    write_run(proj.ledger_dir, [("a" * 64, "seg", "done")], "r1")
    acquire(proj.ledger_dir, "apply", "me")
    report = verify_ledger(proj.ledger_dir)
    assert report.ok and report.warnings == []
    assert proj.read().serial == 5


def test_lock_is_gitignored_in_the_users_repository(proj: Proj) -> None:
    """The user's repository has no .gitignore of ours: the ledger folder must carry it,
    or a killed apply's lock gets committed and locks out every later checkout."""
    subprocess.run(["git", "init", "-q", str(proj.root)], check=True)
    proj.create_ledger()
    acquire(proj.ledger_dir, "apply", "me")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(lock_path(proj.ledger_dir))], cwd=proj.root
    )
    assert ignored.returncode == 0
    header = subprocess.run(
        ["git", "check-ignore", "-q", str(proj.ledger_dir / "header.jsonl")], cwd=proj.root
    )
    assert header.returncode == 1


def test_force_unlock_with_the_wrong_id_refuses(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    with pytest.raises(ReconcilerError, match="does not match the lock held"):
        force_unlock(proj.ledger_dir, "deadbeefdeadbeef")
    assert read_lock(proj.ledger_dir) == info
    assert force_unlock(proj.ledger_dir, info.id) == info
    assert read_lock(proj.ledger_dir) is None


def test_stale_lock_gets_the_hint(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    assert info.looks_stale()
    with pytest.raises(LockHeld) as caught:
        acquire(proj.ledger_dir, "apply", "me")
    message = str(caught.value)
    assert f"The process {info.pid} that took it is gone on this host: it is stale." in message
    assert f"reconcile ledger unlock {info.id}" in message


def test_lock_from_another_host_is_never_called_stale(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid(), host="some-other-runner")
    assert not info.looks_stale()
    with pytest.raises(LockHeld) as caught:
        acquire(proj.ledger_dir, "apply", "me")
    assert "stale" not in str(caught.value)


def test_unreadable_lock_still_refuses(proj: Proj) -> None:
    proj.ledger_dir.mkdir(parents=True)
    lock_path(proj.ledger_dir).write_text("{half")
    with pytest.raises(LockHeld, match="cannot be read"):
        acquire(proj.ledger_dir, "apply", "me")


# the CLI ------------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer unlock's question as a person at a terminal would (CliRunner's stdin is not
    a terminal)."""
    monkeypatch.setattr("reconciler.cli.commands.ledger.stdin_is_terminal", lambda: True)


def test_cli_unlock_without_a_terminal_says_to_use_force(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    result = run_cli("ledger", "unlock", info.id, input="yes\n")
    assert result.code == 1
    assert "standard input is not a terminal, so nobody can confirm: run with --force" in (
        result.err
    )
    assert "Only 'yes'" not in result.out
    assert read_lock(proj.ledger_dir) == info


@pytest.mark.usefixtures("terminal")
def test_cli_unlock_needs_yes(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    result = run_cli("ledger", "unlock", info.id, input="no\n")
    assert result.code == 1
    assert f"ID: {info.id}" in result.out
    assert "Only 'yes' will be accepted" in result.out
    assert "unlock cancelled; the lock is kept" in result.err
    assert read_lock(proj.ledger_dir) == info

    result = run_cli("ledger", "unlock", info.id, input="yes\n")
    assert result.code == 0, result.output
    assert f"The lock {info.id} was removed (no ledger to record it in)." in result.out
    assert read_lock(proj.ledger_dir) is None


@pytest.mark.usefixtures("terminal")
def test_cli_unlock_with_no_answer_keeps_the_lock(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    result = run_cli("ledger", "unlock", info.id, input="")
    assert result.code == 1
    assert read_lock(proj.ledger_dir) == info


def test_cli_unlock_force_does_not_ask(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    result = run_cli("ledger", "unlock", info.id, "--force")
    assert result.code == 0, result.output
    assert "Only 'yes'" not in result.out
    assert read_lock(proj.ledger_dir) is None


def test_cli_unlock_wrong_id_refuses_without_asking(proj: Proj) -> None:
    info = acquire(proj.ledger_dir, "apply", "someone")
    result = run_cli("ledger", "unlock", "0123456789abcdef", input="yes\n")
    assert result.code == 1
    assert f"does not match the lock held ({info.id})" in result.err
    assert "Only 'yes'" not in result.out
    assert read_lock(proj.ledger_dir) == info
    forced = run_cli("ledger", "unlock", "0123456789abcdef", "--force")
    assert forced.code == 1
    assert read_lock(proj.ledger_dir) == info


def test_cli_unlock_shows_the_stale_hint(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    result = run_cli("ledger", "unlock", info.id, "--force")
    assert result.code == 0
    assert f"Its process ({info.pid}) is gone on this host: the lock is stale." in result.out


def test_cli_unlock_when_not_locked(proj: Proj) -> None:
    result = run_cli("ledger", "unlock", "0123456789abcdef", "--force")
    assert result.code == 1
    assert "the ledger is not locked" in result.err


def test_the_lock_names_the_run_holding_it(tmp_path):
    from reconciler.ledger.lock import LockHeld, acquire, read_lock

    held = acquire(tmp_path, "apply", "ci@runner", "a1b2c3d4e5f6")
    assert read_lock(tmp_path).run == "a1b2c3d4e5f6"
    try:
        acquire(tmp_path, "apply", "me@laptop")
    except LockHeld as refused:
        assert "Run: a1b2c3d4e5f6" in str(refused) and held.id in str(refused)
    else:  # pragma: no cover - the second acquire must be refused
        raise AssertionError("a held lock was taken twice")


@pytest.mark.usefixtures("terminal")
def test_a_lock_whose_process_is_alive_here_is_never_broken(proj: Proj) -> None:
    """Not with --force, not with a "yes": the PID is named, the lock kept."""
    info = acquire(proj.ledger_dir, "apply", "someone")  # this process: alive
    for args, answer in ((("--force",), None), ((), "yes\n")):
        result = run_cli("ledger", "unlock", info.id, *args, input=answer)
        assert result.code == 1, result.output
        assert (
            f"the lock is held by process {os.getpid()} on this host, which is still running"
            in result.err
        )
        assert "Only 'yes'" not in result.out  # refused before asking
        assert read_lock(proj.ledger_dir) == info
    with pytest.raises(ReconcilerError, match=f"process {os.getpid()} on this host"):
        force_unlock(proj.ledger_dir, info.id)
    assert read_lock(proj.ledger_dir) == info


def test_a_broken_lock_is_recorded_in_the_ledger(proj: Proj) -> None:
    """Who broke which lock, when, and the run that held it: a run of its own."""
    proj.create_ledger()
    write_run(proj.ledger_dir, [], "r1")
    info = plant_lock(proj.ledger_dir, pid=dead_pid(), run="a1b2c3d4e5f6", host="runner-7")
    result = run_cli("ledger", "unlock", info.id, "--force")
    assert result.code == 0, result.output
    assert "the break is recorded in the ledger" in result.out
    assert "It was taken on another host (runner-7)" in result.out
    ledger = read_ledger(proj.ledger_dir)
    (record,) = ledger.unlocks
    assert record["lock"] == info.id
    assert record["held_by"]["run"] == "a1b2c3d4e5f6" and record["held_by"]["host"] == "runner-7"
    assert record["held_by"]["pid"] == info.pid and record["who"]
    assert record["ts"] and ledger.runs[record["run"]]["operation"] == "unlock"
    assert verify_ledger(proj.ledger_dir).ok


def test_a_lock_that_cannot_be_recorded_is_not_broken(keyed_proj: Proj, monkeypatch) -> None:
    """A keyed ledger records the break with a MAC: without the key, nothing changes."""
    keyed_proj.create_ledger()
    info = plant_lock(keyed_proj.ledger_dir, pid=dead_pid())
    monkeypatch.delenv(KEY_ENV)
    result = run_cli("ledger", "unlock", info.id, "--force")
    assert result.code == 1
    assert read_lock(keyed_proj.ledger_dir) == info


def test_lock_timeout_waits_for_the_holder_to_finish(proj: Proj) -> None:
    import threading
    import time

    from reconciler.ledger.lock import acquire_waiting

    held = acquire(proj.ledger_dir, "apply", "other@ci")
    threading.Timer(0.5, release, (proj.ledger_dir, held)).start()
    start = time.monotonic()
    mine = acquire_waiting(proj.ledger_dir, "apply", "me@laptop", timeout=10.0)
    assert 0.4 <= time.monotonic() - start < 5.0
    assert read_lock(proj.ledger_dir) == mine != held


def test_lock_timeout_gives_up_with_the_holder_and_how_long_it_waited(proj: Proj) -> None:
    from reconciler.ledger.lock import acquire_waiting

    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    acquire(proj.ledger_dir, "apply", "other@ci")
    with pytest.raises(LockHeld, match=r"locked by another run \(waited 30 s: --lock-timeout\)"):
        acquire_waiting(
            proj.ledger_dir, "apply", "me", timeout=30.0, sleep=sleep, clock=lambda: now[0]
        )
    assert abs(sum(sleeps) - 30.0) < 1e-9  # never past the timeout
    assert max(sleeps) <= 2.0 * 1.2 and sleeps[0] <= 0.1 * 1.2  # backoff from 0.1 s to 2 s
    assert len(sleeps) < 30  # backed off, not polling


def test_apply_lock_timeout_on_the_command_line(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj.add_all_vendors()
    for name in SECRETS:
        monkeypatch.setenv(name, "x")
    holder = acquire(proj.ledger_dir, "apply", "other@ci")
    result = run_cli("apply", "--auto-approve", "--lock-timeout", "1s")
    assert result.code == 1
    assert "waited 1 s: --lock-timeout" in result.err
    assert holder.id in result.err


def _in_a_terminal(args: list[str], cwd: Path, answer: bytes) -> tuple[int, str]:
    """`reconcile ARGS` with a pseudo-terminal as stdin, stdout and stderr, answering
    `answer` once it asks: (exit code, everything it printed)."""
    import pty
    import select
    import time

    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(secondary)
    seen, answered, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"Only 'yes' will be accepted" in seen:
            os.write(primary, answer)
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(primary)
    return proc.wait(timeout=30), seen.decode(errors="replace")


def test_unlock_at_a_real_terminal_asks_and_breaks_on_yes(proj: Proj) -> None:
    info = plant_lock(proj.ledger_dir, pid=dead_pid())
    code, shown = _in_a_terminal(["ledger", "unlock", info.id], proj.root, b"no\n")
    assert code == 1 and "unlock cancelled; the lock is kept" in shown
    assert read_lock(proj.ledger_dir) == info
    code, shown = _in_a_terminal(["ledger", "unlock", info.id], proj.root, b"yes\n")
    assert code == 0, shown
    assert f"The lock {info.id} was removed" in shown
    assert read_lock(proj.ledger_dir) is None

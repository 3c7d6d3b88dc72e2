"""Never delete a second person (issue 18, items 2 and 3), against the sandbox.

Braze deletes by email are not idempotent: three users share an email, and each delete
removes whichever of them the prioritization picks. So every second delete request
that reaches the sandbox costs a second person, and the sandbox's state counts them.

- Clock skew: apply 1 fails (its Braze key may read but not delete: the preflight read
  passes, the delete is refused 403, which proves nothing was done, so the item is
  recorded failed), apply 2 deletes user 3; apply 1's run file sorts after apply 2's
  (its clock ahead, apply 2's behind, or a plain rename). The plan must not offer a retry.
- A forced unlock of a live apply: refused while its process is alive on this host;
  broken when it cannot be checked (another host), and then the apply stops before its
  next request, so the next apply never deletes anyone twice.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from reconciler.ledger.lock import read_lock
from reconciler.ledger.store import run_files
from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.kit.e2e import BRAZE_KEY, CREDENTIALS, NO_CHANGES, Project, removal

SHARED = "shared@old-domain.example"
THREE = [
    {"external_id": f"user-{i}", "email": SHARED, "updated_at": f"2026-01-0{i}T00:00:00Z"}
    for i in (1, 2, 3)
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def braze_project(tmp_path: Path, port: int, capsys, monkeypatch, manifests) -> Project:
    base = f"http://127.0.0.1:{port}"
    urls = {v: f"{base}/{v}" for v in ("segment", "braze", "twilio_memory", "insider")}
    project = Project(tmp_path, urls, capsys, monkeypatch)
    project.write_config()
    project.write_specs(manifests)
    return project


SHARED_EMAIL = {
    "brz.yaml": removal(
        "shared-email",
        "brz",
        {
            "delete_profiles": True,
            "absent": [{"profile": {"email": SHARED, "prioritization": ["most_recently_updated"]}}],
        },
    )
}


class _Clock:
    """The writer's clock set to another year (a machine whose clock is wrong)."""

    def __init__(self, year: int) -> None:
        self.year = year

    def now(self, tz: object = None) -> datetime:
        return datetime.now(UTC).replace(year=self.year)


def skewed(monkeypatch: pytest.MonkeyPatch, year: int) -> None:
    clock = _Clock(year)
    monkeypatch.setattr("reconciler.ledger.writer.datetime", clock)
    monkeypatch.setattr(
        "reconciler.ledger.writer.now",
        lambda: clock.now().isoformat(timespec="microseconds").replace("+00:00", "Z"),
    )


def shared_left(sandbox: Sandbox) -> int:
    return sum(1 for u in sandbox.control.state()["braze"]["users"] if u.get("email") == SHARED)


def deletes(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.control.requests() if e["path"].endswith("/users/delete"))


@pytest.mark.parametrize("skew", ["first-ahead-2099", "second-behind-1999", "renamed-2099"])
def test_clock_skew_never_deletes_a_second_person(
    tmp_path, credentials_file, capsys, monkeypatch, skew
):
    port = free_port()
    project = braze_project(tmp_path, port, capsys, monkeypatch, SHARED_EMAIL)
    read_only = deepcopy(CREDENTIALS)
    read_only["braze"]["api_keys"] = {BRAZE_KEY: ["users.export.ids"]}
    read_only_file = tmp_path / "read-only-credentials.yaml"
    read_only_file.write_text(yaml.safe_dump(read_only), encoding="utf-8")

    failing = options(read_only_file, port=port)
    failing.seed = {"braze": {"users": THREE}}
    with Sandbox(failing) as down:
        with monkeypatch.context() as clock:
            if skew == "first-ahead-2099":
                skewed(clock, 2099)
            first = project.cli("apply", "--auto-approve")
        assert deletes(down) >= 1 and shared_left(down) == 3  # refused: nobody went
    assert first.code == 1, first.output
    assert "403" in first.err, first.err
    (first_file,) = run_files(project.ledger_dir)
    assert json.loads(project.cli("plan", "--format", "json").out)["actions"][0]["state"] == (
        "failed"
    )

    opts = options(credentials_file, port=port)
    opts.seed = {"braze": {"users": THREE}}
    with Sandbox(opts) as sandbox:
        with monkeypatch.context() as clock:
            if skew == "second-behind-1999":
                skewed(clock, 1999)
            second = project.cli("apply", "--auto-approve")
        assert second.code == 0, second.output
        sandbox.control.settle()  # Braze runs its queued deletions
        assert (deletes(sandbox), shared_left(sandbox)) == (1, 2)  # user 3 went
        second_file = next(p for p in run_files(project.ledger_dir) if p != first_file)
        if skew == "renamed-2099":
            first_file = first_file.rename(
                first_file.with_name("20990101T000000000000Z-" + first_file.name.split("-")[1])
            )
        # the failed run now sorts after the run that deleted the user
        assert run_files(project.ledger_dir) == sorted([second_file, first_file])
        assert first_file.name > second_file.name

        plan = project.plan_json()
        (action,) = plan["actions"]
        assert (action["state"], action["action"]) == ("accepted", "none")
        assert plan["summary"]["to_retry"] == 0
        assert project.cli("plan").out.rstrip().endswith(NO_CHANGES)
        for _ in range(2):  # every later apply, not only the next
            again = project.cli("apply", "--auto-approve")
            assert again.code == 0 and "Nothing to send." in again.out
        assert (deletes(sandbox), shared_left(sandbox)) == (1, 2)  # zero second deletions
        verify = project.cli("ledger", "verify")
        assert verify.code == 0, verify.output
        if skew == "renamed-2099":
            assert "named for 2099-01-01 but its run began at 20" in verify.err
        elif skew == "first-ahead-2099":
            assert "in the future" in verify.err and "before the run it continues" in verify.err


THREE_EMAILS = {
    "brz.yaml": removal(
        "two-batches",
        "brz",
        {
            "delete_profiles": True,
            "absent": [
                {
                    "profile": {
                        "email": f"p{i}@old-domain.example",
                        # three identified users share each email: the most recent goes
                        "prioritization": ["identified", "most_recently_updated"],
                    }
                }
                for i in range(3)  # one email to a request (vendors/braze/FACTS.md)
            ],
        },
    )
}


def people(count: int) -> list[dict[str, str]]:
    """For each of `count` emails, three identified users sharing it."""
    return [
        {
            "external_id": f"u{i}-{k}",
            "email": f"p{i}@old-domain.example",
            "updated_at": f"2026-01-0{k}T00:00:00Z",
        }
        for i in range(count)
        for k in (1, 2, 3)
    ]


def test_a_forced_unlock_of_a_live_apply_never_deletes_anyone_twice(
    tmp_path, credentials_file, capsys, monkeypatch
):
    opts = options(credentials_file, latency_ms=3000)
    opts.seed = {"braze": {"users": people(3)}}
    with Sandbox(opts, in_subprocess=True) as sandbox:
        port = int(sandbox.base_url.rsplit(":", 1)[1])
        project = braze_project(tmp_path, port, capsys, monkeypatch, THREE_EMAILS)
        live = project.popen("apply", "--auto-approve", "--parallelism", "1")
        try:
            # past the preflight read: the first delete is in flight (3 s of latency)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not deletes(sandbox):
                time.sleep(0.02)
            assert deletes(sandbox), "the apply sent no delete"
            lock = read_lock(project.ledger_dir)
            assert lock is not None and lock.pid == live.pid

            # alive on this host: never broken, with --force or without
            refused = project.cli("ledger", "unlock", lock.id, "--force")
            assert refused.code == 1
            assert f"held by process {live.pid} on this host, which is still running" in (
                refused.err
            )
            assert read_lock(project.ledger_dir) == lock

            # a holder whose liveness cannot be checked from here (another runner)
            path = project.ledger_dir / ".lock"
            data = json.loads(path.read_text())
            data["host"] = "another-runner"
            with path.open("r+") as handle:  # in place: the same lock file
                handle.write(json.dumps(data))
                handle.truncate()
            broken = project.cli("ledger", "unlock", lock.id, "--force")
            assert broken.code == 0, broken.output
            assert "the break is recorded in the ledger" in broken.out
            out, err = live.communicate(timeout=60)
        finally:
            if live.poll() is None:
                live.send_signal(signal.SIGKILL)
                live.communicate()
        assert live.returncode == 1, (out, err)
        assert "the ledger lock was broken while this apply ran" in err
        assert "stopped before sending the next request" in err
        assert deletes(sandbox) == 1  # the second request never left

        sandbox.control.set_faults("braze", latency_ms=0)
        after = project.cli("apply", "--auto-approve")
        assert after.code == 0, after.output
        assert deletes(sandbox) == 3  # the two never sent, once each
        sandbox.control.settle()
        left = {}
        for user in sandbox.control.state()["braze"]["users"]:
            left[user["email"]] = left.get(user["email"], 0) + 1
        # every email lost exactly one user: nobody was deleted twice
        assert left == {f"p{i}@old-domain.example": 2 for i in range(3)}
        again = project.cli("apply", "--auto-approve")
        assert again.code == 0 and "Nothing to send." in again.out
        assert deletes(sandbox) == 3
        verify = project.cli("ledger", "verify")
        assert verify.code == 0, verify.output

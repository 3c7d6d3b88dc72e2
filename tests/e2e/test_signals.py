"""Ctrl-C and SIGTERM during apply (CI runners cancel with SIGTERM): the run stops taking
new requests, records the answers in flight, releases the lock and says how far it got;
the next apply sends only the rest. And Ctrl-C at the prompt sends nothing.

Against the sandbox in its own process with latency, apply in its own process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.ledger.lock import read_lock
from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.e2e.test_rates_and_faults import segment_heavy_manifest, segment_heavy_seed
from tests.kit.e2e import Project

ITEMS = 36  # 12 Segment profiles of 3 emails: one delete request each


@pytest.fixture(scope="module")
def slow_sandbox(credentials_file: Path) -> Iterator[Sandbox]:
    opts = options(credentials_file, latency_ms=150)
    opts.seed = segment_heavy_seed()
    with Sandbox(opts, in_subprocess=True) as sb:
        yield sb


@pytest.fixture
def seg_project(tmp_path, slow_sandbox, capsys, monkeypatch) -> Project:
    slow_sandbox.control.reset()
    p = Project(tmp_path, slow_sandbox.urls, capsys, monkeypatch)
    p.write_config()
    p.write_specs({"segment-rate.yaml": segment_heavy_manifest()})
    return p


def deletes(sandbox: Sandbox) -> list[str]:
    return [
        e["path"]
        for e in sandbox.control.requests()
        if e["method"] == "POST" and e["path"].endswith("/external_ids/delete")
    ]


def wait_for_deletes(sandbox: Sandbox, proc, count: int, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if len(deletes(sandbox)) >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"apply sent fewer than {count} deletes in {limit} s")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_between_requests_records_what_was_in_flight_and_releases_the_lock(
    seg_project: Project, slow_sandbox: Sandbox, signum: int, code: int
) -> None:
    project = seg_project
    proc = project.popen("apply", "--auto-approve", "--parallelism", "2")
    wait_for_deletes(slow_sandbox, proc, 4)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, out + err
    name = signal.Signals(signum).name
    assert f"{name}: stopping. No new requests are sent" in err
    sent = deletes(slow_sandbox)
    assert 4 <= len(sent) < ITEMS
    assert f"Interrupted ({name}): {len(sent)} of {ITEMS} sent; the rest stay pending." in out
    assert "Traceback" not in err
    assert read_lock(project.ledger_dir) is None  # released: no unlock needed

    # every answer in flight was recorded: nothing unknown, the rest simply pending
    summary = project.plan_json()["summary"]
    assert (summary["unknown"], summary["to_remove"]) == (0, ITEMS - len(sent))
    assert project.cli("ledger", "verify").code == 0

    again = project.cli("apply", "--auto-approve")
    assert again.code == 0, again.output
    assert len(deletes(slow_sandbox)) == ITEMS  # one request per item in all: none twice
    assert project.plan_json()["summary"]["to_remove"] == 0


def read_until(fd: int, proc, text: str, limit: float = 20.0) -> str:
    """What the terminal shows until `text` appears (or the process ends)."""
    os.set_blocking(fd, False)
    seen, deadline = "", time.monotonic() + limit
    while text not in seen and time.monotonic() < deadline and proc.poll() is None:
        try:
            seen += os.read(fd, 4096).decode(errors="replace")
        except BlockingIOError:
            time.sleep(0.02)
    return seen


def test_ctrl_c_at_the_prompt_sends_nothing(seg_project: Project, slow_sandbox: Sandbox) -> None:
    main_fd, child_fd = os.openpty()  # a terminal, so apply asks
    try:
        proc = seg_project.popen("apply", stdin=child_fd, stdout=child_fd, stderr=child_fd)
        seen = read_until(main_fd, proc, "Only 'yes' will be accepted")
        assert "Only 'yes' will be accepted" in seen, seen[-500:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        while True:  # what it printed before it ended
            try:
                chunk = os.read(main_fd, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            seen += chunk.decode(errors="replace")
    finally:
        os.close(main_fd)
        os.close(child_fd)
    assert proc.returncode == 1, seen[-500:]
    assert "Apply cancelled. Nothing was sent." in seen
    assert deletes(slow_sandbox) == []

"""`reconcile apply` SIGKILLed while its ledger writer starts a rotated part file (issue
11: ledger files rotate to stay under GitHub's limits): the real CLI against the sandbox
over HTTP, its parts made small so a short run rotates several times, the kill landing
while the new part is created and empty. The ledger still verifies (the empty part is
named, not a break), every request the sandbox received has its intent, the in-flight
items are unknown, and after `ledger unlock --force` the next apply finishes the rest
without sending anything twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reconciler.ledger.files import FileStorage
from reconciler.ledger.store import item_key, run_files
from reconciler.sandbox.server import Sandbox
from tests.e2e.test_crash_safety import (
    MANIFESTS,
    ItemMap,
    is_read,
    ledger_records,
    slow_sandbox,  # noqa: F401 - the module's sandbox fixture, shared
)
from tests.kit.e2e import ENV, NO_CHANGES, Project

PART_BYTES = 1200
PAUSE_AT_PART = 3  # the first part, then two rotations: killed while the 3rd is started

APPLY = textwrap.dedent(
    f"""
    import sys, time
    from reconciler.ledger import files, writer
    from reconciler.cli.main import main

    writer.RunWriter.__init__.__kwdefaults__["max_file_bytes"] = {PART_BYTES}
    started = files.PartFile.__init__
    made = [0]

    def paused(self, path):
        started(self, path)  # the empty file is there, its folder entry durable
        made[0] += 1
        if made[0] == {PAUSE_AT_PART}:
            print("STARTING", path.name, file=sys.stderr, flush=True)
            time.sleep(60)

    files.PartFile.__init__ = paused
    main(sys.argv[1:])
    """
)


def start_apply(project: Project) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    env.update(project.env)
    return subprocess.Popen(
        [sys.executable, "-c", APPLY, "apply", "--auto-approve", "--parallelism", "2"],
        cwd=project.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_apply_killed_while_a_rotated_ledger_file_is_started(
    tmp_path: Path,
    slow_sandbox: Sandbox,  # noqa: F811
    capsys,
    monkeypatch,
) -> None:
    slow_sandbox.control.reset()
    project = Project(tmp_path, slow_sandbox.urls, capsys, monkeypatch)
    project.write_config()
    project.write_specs(MANIFESTS)
    proc = start_apply(project)
    assert proc.stderr is not None
    name = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line.startswith("STARTING"):
            name = line.split()[1]
            break
        if not line and proc.poll() is not None:
            break
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert name, f"apply never started part {PAUSE_AT_PART}: {out}{err}"
    time.sleep(0.05)  # requests already on the wire reach the sandbox's log

    empty = project.ledger_dir / "runs" / name
    assert re.search(r"\.p\d{4}\.jsonl$", name), name  # a rotated part, not a run's first
    assert empty.stat().st_size == 0
    verify = project.cli("ledger", "verify")
    assert verify.code == 0, verify.output
    assert name in verify.output and "holds no complete record" in verify.output

    storage = FileStorage(project.ledger_dir)
    records = ledger_records(project.ledger_dir, storage)
    intents = {r["fp"] for r in records if r["type"] == "intent"}
    results = {r["fp"] for r in records if r["type"] == "result"}
    items = ItemMap(project.root, storage)
    log = slow_sandbox.control.requests()
    deletes = [e for e in log if not is_read(e)]
    assert deletes, "killed before any deletion: the test did not reach a rotation mid-run"
    for entry in deletes:
        missing = items.carried(entry) - intents
        assert not missing, f"{entry['method']} {entry['path']} had no intent"
    plan = project.plan_json()
    by_state: dict[str, set[str]] = {}
    for action in plan["actions"]:
        by_state.setdefault(action["state"], set()).add(item_key(action["fingerprint"]))
    assert by_state.get("unknown", set()) == intents - results
    assert by_state.get("pending", set()) == items.all - intents

    lock_id = json.loads((project.ledger_dir / ".lock").read_text())["id"]
    assert project.cli("ledger", "unlock", lock_id, "--force").code == 0
    rerun = project.cli("apply", "--auto-approve")
    assert rerun.code == 0, rerun.output
    assert project.cli("plan").out.rstrip().endswith(NO_CHANGES)
    assert len(project.plan_json()["actions"]) == len(items.all)
    assert project.cli("ledger", "verify").code == 0
    # nothing done before the kill was sent again
    done_before = results
    again = [
        e
        for e in slow_sandbox.control.requests()[len(log) :]
        if not is_read(e) and items.carried(e) & done_before
    ]
    assert again == []
    assert len(run_files(project.ledger_dir)) > PAUSE_AT_PART  # the rerun's own files too

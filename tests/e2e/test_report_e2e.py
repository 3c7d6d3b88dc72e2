"""Proof of erasure end to end against the sandbox: a real apply, a refresh that confirms
the queued removals, and the report of each step, verified offline; the plan's deadline
on the way."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.kit.e2e import MANIFESTS, Project

GIT = ("git", "-c", "user.name=Dee Pio", "-c", "user.email=dpo@example.com")


def _dated(project: Project) -> None:
    manifests: dict[str, dict[str, Any]] = json.loads(json.dumps(MANIFESTS))
    for doc in manifests.values():
        doc["metadata"].update(ticket="PRIV-1234", requested_at="2026-11-20", regulation="gdpr")
    project.write_specs(manifests)
    subprocess.run(["git", "init", "-q"], cwd=project.root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "PRIV-1234: erase (jane@old-domain.example)"],
                   cwd=project.root, check=True)  # fmt: skip


def test_apply_refresh_report_and_verify(project: Project, sandbox: Any) -> None:
    _dated(project)
    planned = project.plan_json()
    assert {m["due"] for m in planned["deadlines"]["manifests"]} == {"2026-12-20T23:59:59Z"}
    applied = project.cli("apply", "--auto-approve")
    assert applied.code == 0, applied.output

    first = project.cli("report", "--ticket", "PRIV-1234", "--format", "json")
    assert first.code == 0, first.output
    doc = json.loads(first.out)
    kinds = {i["evidence"] for r in doc["requests"] for i in r["items"]}
    assert "removed" in kinds and "accepted, awaiting confirmation" in kinds
    removed = next(i for r in doc["requests"] for i in r["items"] if i["evidence"] == "removed")
    assert removed["events"][0]["code"] == 200 and removed["events"][0]["commit"]
    commits = doc["requests"][0]["commits"]
    assert commits[0]["author"] == "Dee Pio"
    assert commits[0]["subject"] == "PRIV-1234: erase (j***@old-domain.example)"  # masked
    assert "jane@old-domain.example" not in first.out

    sandbox.control.settle()  # the vendors ran their queues
    refreshed = project.cli("refresh", "--min-age", "0", "--queue-window", "0")
    assert refreshed.code in (0, 2), refreshed.output
    for fmt in ("json", "markdown", "html"):
        out = project.root / f"proof.{fmt}"
        made = project.cli("report", "--ticket", "PRIV-1234", "--format", fmt, "--out", str(out))
        assert made.code == 0, made.output
        checked = project.cli("ledger", "verify", "--report", str(out))
        assert checked.code == 0, checked.output
    doc = json.loads((project.root / "proof.json").read_text())
    counts = doc["summary"]["counts"]
    assert counts["confirmed by refresh"] > 0  # the queued removals, read back gone
    assert counts["removed"] > 0
    status = project.cli("status", "--format", "json")
    assert status.code == 0, status.output
    assert all(m["due"] == "2026-12-20T23:59:59Z" for m in json.loads(status.out)["manifests"])
    project.assert_no_secrets()

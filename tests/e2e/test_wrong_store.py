"""A wrong Twilio store_id must not turn every 404 into "already absent"."""

from __future__ import annotations

import yaml

from tests.kit.e2e import STORE, vendor_requests


def test_a_store_that_does_not_exist_stops_the_target_before_any_delete(project, sandbox):
    config = yaml.safe_load((project.root / "reconciler.yaml").read_text())
    wrong = "mem_store_0" + "z" * 25
    assert wrong != STORE
    config["targets"]["mem"]["store_id"] = wrong
    (project.root / "reconciler.yaml").write_text(yaml.safe_dump(config))
    result = project.cli("apply", "--auto-approve", "--target", "mem")
    assert result.code == 1
    assert (
        "Stopped sending to mem: preflight: the store was not found (check store_id)" in result.err
    )
    sent = vendor_requests(sandbox)
    assert [e["method"] for e in sent] == ["GET"]  # the store read, no DELETE
    listed = project.cli("ledger", "list", "--target", "mem", "--state", "done")
    assert "done" not in listed.out  # nothing recorded as removed
    plan = project.cli("plan", "--target", "mem")
    assert "already removed" in plan.out and "0 already removed" in plan.out

"""`reconcile apply --reviewed PLANFILE` against the sandbox: only what is pending now AND
was shown in the reviewed plan is sent; everything else is listed and never sent."""

from __future__ import annotations

import shutil
from collections import Counter

from tests.kit.e2e import MANIFESTS, vendor_requests


def specs(*names: str) -> dict:
    return {name: MANIFESTS[name] for name in names}


def only(project, *names: str) -> None:
    for path in (project.root / "specs").glob("*.yaml"):
        path.unlink()
    project.write_specs(specs(*names))


def vendors_of(log) -> Counter:
    return Counter(e["vendor"] for e in log)


def test_a_reviewed_plan_applied_after_another_merge_sends_only_its_own_actions(project, sandbox):
    only(project, "segment.yaml")
    assert project.cli("apply", "--auto-approve").code == 0  # main, already applied
    # two pull requests, each planned (and reviewed) against main
    only(project, "segment.yaml", "braze.yaml")
    assert project.cli("plan", "--out", "a.json").code == 0
    only(project, "segment.yaml", "memory.yaml")
    assert project.cli("plan", "--out", "b.json").code == 0
    # A merges and its apply runs
    only(project, "segment.yaml", "braze.yaml")
    seq = vendor_requests(sandbox)[-1]["seq"]
    first = project.cli("apply", "--reviewed", "a.json")
    assert first.code == 0, first.output
    # the preflight read, then 4 ids of 2 types
    assert vendors_of(vendor_requests(sandbox, since=seq)) == {"braze": 3}
    # B merges on top: the ledger moved since B's review, which --reviewed accepts
    only(project, "segment.yaml", "braze.yaml", "memory.yaml")
    seq = vendor_requests(sandbox)[-1]["seq"]
    second = project.cli("apply", "--reviewed", "b.json")
    assert second.code == 0, second.output
    sent = vendor_requests(sandbox, since=seq)
    assert {e["vendor"] for e in sent} == {"twilio_memory"}
    assert "Not sent" not in second.output
    # nothing is pending any more, and applying B again sends nothing
    seq = sent[-1]["seq"]
    again = project.cli("apply", "--reviewed", "b.json")
    assert again.code == 0 and "Nothing to send." in again.out
    assert vendor_requests(sandbox, since=seq) == []
    assert project.cli("ledger", "verify").code == 0
    project.assert_no_secrets()


def test_a_merge_whose_apply_has_not_run_is_listed_not_sent(project, sandbox):
    only(project, "segment.yaml")
    assert project.cli("plan", "--out", "b.json").code == 0  # B reviewed segment only
    only(project, "segment.yaml", "braze.yaml")  # A merged, its apply never ran
    result = project.cli("apply", "--reviewed", "b.json")
    assert result.code == 1
    log = vendor_requests(sandbox)
    assert {e["vendor"] for e in log} == {"segment"}
    assert "Not sent: 4 pending action(s) that the reviewed plan did not show" in result.err
    assert "brz: user profile external_id ex****01  # braze-cleanup, specs/braze.yaml:" in (
        result.err
    )
    assert "ext_1001" not in result.output  # masked
    plan = project.plan_json()
    assert plan["targets"][1]["summary"]["to_remove"] == 4  # braze: still pending


def test_a_manifest_changed_after_review_is_refused_with_the_list(project, sandbox):
    only(project, "braze.yaml")
    assert project.cli("plan", "--out", "reviewed.json").code == 0
    path = project.root / "specs" / "braze.yaml"
    path.write_text(path.read_text().replace("ext_missing", "ext_sneaked_in"))
    result = project.cli("apply", "--reviewed", "reviewed.json")
    assert result.code == 1
    assert "Not sent: 1 pending action(s)" in result.err
    [listed] = [line for line in result.err.splitlines() if line.startswith("  brz:")]
    assert "external_id ex**********in" in listed and "specs/braze.yaml:" in listed
    assert "ext_sneaked_in" not in result.output
    # the three unchanged entries were reviewed and sent; the changed one is pending
    plan = project.plan_json()
    pending = [a for a in plan["actions"] if a["state"] == "pending"]
    assert [a["description"] for a in pending] == ["user profile external_id ex**********in"]
    assert project.cli("ledger", "verify").code == 0


def test_nothing_reviewed_is_sent_twice(project, sandbox):
    assert project.cli("plan", "--out", "reviewed.json").code == 0
    assert project.cli("apply", "--reviewed", "reviewed.json").code == 0
    log = vendor_requests(sandbox)
    # one request per Segment identifier (5), never two; u_1001 carries three of them
    paths = Counter(e["path"].split("user_id:")[1] for e in log if e["vendor"] == "segment")
    assert sorted(paths.values()) == [1, 1, 3] and sum(paths.values()) == 5
    again = project.cli("apply", "--reviewed", "reviewed.json")
    assert again.code == 0
    assert "15 reviewed action(s) were already sent by an earlier run." in again.out
    assert vendor_requests(sandbox) == log


def test_a_reviewed_plan_of_another_ledger_is_refused(project, sandbox):
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    assert project.cli("plan", "--out", "reviewed.json").code == 0
    shutil.rmtree(project.ledger_dir)
    assert project.cli("apply", "--auto-approve", "--target", "mem").code == 0  # a new ledger
    before = vendor_requests(sandbox)
    result = project.cli("apply", "--reviewed", "reviewed.json")
    assert result.code == 1
    assert "cannot be applied here: it was made from another ledger" in result.err
    assert "Nothing was sent." in result.err
    assert vendor_requests(sandbox) == before


def test_a_reviewed_plan_made_with_another_key_is_refused(project, sandbox):
    project.write_config(ledger={"path": "state/ledger", "key_env": "E2E_LEDGER_KEY"})
    project.monkeypatch.setenv("E2E_LEDGER_KEY", "key-of-another-project")
    assert project.cli("plan", "--out", "reviewed.json").code == 0
    project.monkeypatch.setenv("E2E_LEDGER_KEY", "this-projects-key")
    result = project.cli("apply", "--reviewed", "reviewed.json")
    assert result.code == 1
    assert "made with another fingerprint key" in result.err
    assert vendor_requests(sandbox) == []


def test_reviewed_and_a_planfile_together_are_refused(project, sandbox):
    assert project.cli("plan", "--out", "p.json").code == 0
    result = project.cli("apply", "p.json", "--reviewed", "p.json")
    assert result.code == 1 and "not both" in result.err
    assert vendor_requests(sandbox) == []

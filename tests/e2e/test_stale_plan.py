"""`reconcile apply PLANFILE` refuses a plan the world has moved past, in every way it
can move, and sends nothing when it does."""

from __future__ import annotations

import shutil

import yaml

from tests.kit.e2e import removal, vendor_requests

STALE = "Saved plan is stale"
KEY_ENV = "E2E_LEDGER_KEY"


def refused(project, sandbox, plan: str = "plan.json", *args: str) -> str:
    before = vendor_requests(sandbox)
    runs = sorted((project.ledger_dir / "runs").glob("*")) if project.ledger_dir.exists() else []
    result = project.cli("apply", plan, *args)
    assert result.code == 1, result.output
    assert vendor_requests(sandbox) == before, "a refused plan sent something"
    after = sorted((project.ledger_dir / "runs").glob("*")) if project.ledger_dir.exists() else []
    assert after == runs, "a refused plan wrote to the ledger"
    return result.err


def test_the_ledger_changed_after_the_plan(project, sandbox):
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    assert project.cli("plan", "--out", "plan.json").code == 0
    assert project.cli("apply", "--auto-approve", "--target", "brz").code == 0  # another run
    err = refused(project, sandbox)
    assert STALE in err
    assert "the ledger changed since the plan was made" in err
    assert "Nothing was sent" in err and "reconcile plan --out FILE" in err


def test_the_manifests_changed_after_the_plan(project, sandbox):
    assert project.cli("plan", "--out", "plan.json").code == 0
    extra = removal(
        "late-addition",
        "seg",
        {
            "absent": [
                {
                    "profile": {"user_id": "u_1001"},
                    "identifiers": [{"type": "anonymous_id", "value": "a-7f3c"}],
                }
            ]
        },
    )
    (project.root / "specs" / "late.yaml").write_text(yaml.safe_dump(extra))
    err = refused(project, sandbox)
    assert STALE in err and "the manifests changed since the plan was made" in err


def test_a_manifest_edited_in_place_is_a_change(project, sandbox):
    assert project.cli("plan", "--out", "plan.json").code == 0
    path = project.root / "specs" / "braze.yaml"
    path.write_text(path.read_text().replace("ext_missing", "ext_other"))
    err = refused(project, sandbox)
    assert "the manifests changed since the plan was made" in err


def test_the_ledger_did_not_exist_then_and_exists_now(project, sandbox):
    assert project.cli("plan", "--out", "plan.json").code == 0
    assert not project.ledger_dir.exists()
    assert project.cli("apply", "--auto-approve", "--target", "mem").code == 0
    err = refused(project, sandbox)
    assert STALE in err
    assert "the ledger did not exist when the plan was made and exists now" in err


def test_a_different_ledger_lineage(project, sandbox):
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    assert project.cli("plan", "--out", "plan.json").code == 0
    old = project.plan_json()["ledger"]["lineage"]
    shutil.rmtree(project.ledger_dir)  # another ledger takes its place
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    new = project.plan_json()["ledger"]["lineage"]
    assert new != old
    err = refused(project, sandbox)
    assert STALE in err
    assert f"the ledger's lineage is {new}, the plan was made from {old}" in err


def test_the_ledger_is_gone(project, sandbox):
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    assert project.cli("plan", "--out", "plan.json").code == 0
    shutil.rmtree(project.ledger_dir)
    err = refused(project, sandbox)
    assert STALE in err and "the ledger the plan was made from is gone" in err


def keyed(project, key: str) -> None:
    project.write_config(ledger={"path": "state/ledger", "key_env": KEY_ENV})
    project.monkeypatch.setenv(KEY_ENV, key)


def test_a_different_key_for_a_keyed_ledger(project, sandbox):
    keyed(project, "ledger-key-A-0f9e8d7c6b5a49382716")
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    assert project.cli("plan", "--out", "plan.json").code == 0
    keyed(project, "ledger-key-B-aa11bb22cc33dd44ee55")
    err = refused(project, sandbox)
    assert STALE in err and "the fingerprint key changed since the plan was made" in err
    assert "ledger-key-B" not in err and "ledger-key-A" not in err


def test_a_different_key_before_the_ledger_exists(project, sandbox):
    keyed(project, "ledger-key-A-0f9e8d7c6b5a49382716")
    assert project.cli("plan", "--out", "plan.json").code == 0
    keyed(project, "ledger-key-B-aa11bb22cc33dd44ee55")
    err = refused(project, sandbox)
    assert STALE in err and "the fingerprint key changed since the plan was made" in err
    assert not project.ledger_dir.joinpath("header.jsonl").exists()


def test_a_key_added_to_an_unkeyed_plan(project, sandbox):
    assert project.cli("plan", "--out", "plan.json").code == 0  # salted, no ledger yet
    keyed(project, "ledger-key-A-0f9e8d7c6b5a49382716")
    err = refused(project, sandbox)
    assert STALE in err and "key changed" in err


def test_a_target_other_than_the_saved_plans(project, sandbox):
    assert project.cli("plan", "--out", "seg.json", "--target", "seg").code == 0
    err = refused(project, sandbox, "seg.json", "--target", "brz")
    assert "was planned for targets ['seg']" in err and "--target cannot change that" in err
    assert project.cli("plan", "--out", "all.json").code == 0
    err = refused(project, sandbox, "all.json", "--target", "seg")
    assert "was planned for targets all" in err
    # the same target, or none, is the plan's own
    ok = project.cli("apply", "seg.json", "--target", "seg")
    assert ok.code == 0, ok.output
    assert {e["vendor"] for e in vendor_requests(sandbox)} == {"segment"}


def test_a_plan_is_applied_once(project, sandbox):
    assert project.cli("plan", "--out", "plan.json").code == 0
    assert project.cli("apply", "plan.json").code == 0
    err = refused(project, sandbox)
    assert STALE in err


def test_not_a_plan_file(project, sandbox):
    (project.root / "bogus.json").write_text('{"kind": "something-else"}')
    err = refused(project, sandbox, "bogus.json")
    assert "not a saved plan" in err
    err = refused(project, sandbox, "missing.json")
    assert "no such plan file" in err

"""Saved plans (`plan --out FILE`): what they hold, and when apply must refuse them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.ledger.store import read_ledger
from reconciler.masking import raw_values
from reconciler.plan.keys import fingerprinter_for
from reconciler.plan.planfile import (
    PLAN_KIND,
    PlanStamp,
    SavedPlan,
    load_plan,
    save_plan,
    stale_reason,
)
from reconciler.plan.savedjoin import action_of, state_of
from reconciler.plan.seal import Seal
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.kit.specs import RAW_VALUES, segment_manifest


def save(proj: Proj, *args: str) -> SavedPlan:
    result = run_cli("plan", "--out", "saved.plan", *args)
    assert result.code == 0, result.output
    return load_plan(proj.root / "saved.plan", proj.key_bytes())


def records(saved: SavedPlan) -> list[tuple[str, str, str, str]]:
    """(target, 128-bit fingerprint, state, action) of every saved item, in file order."""
    names = [name for name, _ in saved.sections]
    return [(names[i], r.fp.hex(), state_of(r), action_of(r)) for i, r in saved.records()]


def staleness(proj: Proj, saved: SavedPlan, *targets: str) -> str | None:
    """The check apply will make: the saved plan against the ledger and manifests now
    (planned with the saved plan's salt when it was made before the ledger existed)."""
    salt = saved.new_ledger_salt
    now = proj.plan(*targets, salt=salt)
    return stale_reason(saved, read_ledger(proj.ledger_dir), now.desired_digest, now.accounts)


@pytest.fixture
def with_ledger(proj: Proj) -> Proj:
    proj.add_all_vendors()
    proj.create_ledger()
    item = proj.items("seg")[0]
    write_run(proj.ledger_dir, [(proj.fp(item), "seg", "done")], "r1")
    return proj


def test_a_fresh_plan_is_not_stale(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    assert staleness(with_ledger, saved) is None
    # reading does not move anything: still fresh
    assert run_cli("ledger", "verify").code == 0
    assert staleness(with_ledger, saved) is None


def test_stale_after_the_ledger_changes(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    item = with_ledger.items("braze")[0]
    write_run(with_ledger.ledger_dir, [(with_ledger.fp(item), "braze", "accepted")], "r2")
    reason = staleness(with_ledger, saved)
    assert reason is not None
    assert reason.startswith("the ledger changed since the plan was made (serial 5 -> 9)")


def test_stale_after_a_refresh_run_without_item_changes(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    write_run(with_ledger.ledger_dir, [], "r2")  # a run that recorded nothing but itself
    assert "the ledger changed" in (staleness(with_ledger, saved) or "")


def test_stale_with_the_same_serial_but_other_records(with_ledger: Proj, tmp_path: Path) -> None:
    """Two branches each add a 4-record run: same lineage and serial, different ledger."""
    other = with_ledger.copy_ledger(tmp_path / "other-branch")
    item = with_ledger.items("mem")[0]
    write_run(other, [(with_ledger.fp(item), "mem", "done")], "theirs")
    write_run(with_ledger.ledger_dir, [(with_ledger.fp(item), "mem", "failed")], "ours")
    saved = save(with_ledger)
    # the checkout now holds the other branch's ledger
    shutil.rmtree(with_ledger.ledger_dir)
    shutil.copytree(other, with_ledger.ledger_dir)
    now = read_ledger(with_ledger.ledger_dir)
    then = saved.head["ledger"]
    assert (now.lineage, now.serial) == (then["lineage"], then["serial"])
    reason = staleness(with_ledger, saved)
    # the plan's head (our run's last record) is not in their ledger
    assert reason is not None and reason.startswith("the ledger no longer holds the newest")


def test_stale_after_a_manifest_changes(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    with_ledger.write(
        "specs/more.yaml", segment_manifest("more", [("u_9", "new@old-domain.example")])
    )
    assert staleness(with_ledger, saved) == "the manifests changed since the plan was made"


def test_stale_after_an_entry_is_removed(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    (with_ledger.root / "specs" / "mem.yaml").unlink()
    assert staleness(with_ledger, saved) == "the manifests changed since the plan was made"


def test_reformatting_a_manifest_is_not_a_change(with_ledger: Proj) -> None:
    """The digest covers the desired set, not the YAML's spelling."""
    saved = save(with_ledger)
    path = with_ledger.root / "specs" / "seg.yaml"
    path.write_text("# a comment moves every line down\n\n" + path.read_text())
    assert staleness(with_ledger, saved) is None


def test_stale_when_the_ledger_did_not_exist_and_exists_now(proj: Proj) -> None:
    proj.add_all_vendors()
    saved = save(proj)
    assert saved.head["ledger"]["exists"] is False
    assert staleness(proj, saved) is None
    proj.create_ledger()  # e.g. another apply made it meanwhile
    assert staleness(proj, saved) == (
        "the ledger did not exist when the plan was made and exists now"
    )


def test_stale_when_the_lineage_differs(with_ledger: Proj, tmp_path: Path) -> None:
    saved = save(with_ledger)
    lineage = saved.head["ledger"]["lineage"]
    # a different ledger with the same serial: started afresh, one run of the same size
    shutil.rmtree(with_ledger.ledger_dir)
    with_ledger.create_ledger()
    item = with_ledger.items("seg")[0]
    write_run(with_ledger.ledger_dir, [(with_ledger.fp(item), "seg", "done")], "r1")
    now = read_ledger(with_ledger.ledger_dir)
    assert now.serial == saved.head["ledger"]["serial"] and now.lineage != lineage
    reason = staleness(with_ledger, saved)
    assert reason is not None and "a different ledger" in reason
    assert lineage in reason


def test_stale_when_the_ledger_is_gone(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    shutil.rmtree(with_ledger.ledger_dir)
    assert staleness(with_ledger, saved) == "the ledger the plan was made from is gone"


def test_a_target_restricted_plan_covers_only_its_targets(with_ledger: Proj) -> None:
    saved = save(with_ledger, "--target", "seg")
    assert saved.target_filter == ["seg"]
    assert {target for target, *_ in records(saved)} == {"seg"}
    with_ledger.write(
        "specs/braze2.yaml",
        (with_ledger.root / "specs" / "braze.yaml")
        .read_text()
        .replace("braze-load-test", "braze-more")
        .replace("loadtest-0001", "loadtest-0099"),
    )
    # braze changed: not this plan's business
    assert staleness(with_ledger, saved, "seg") is None
    with_ledger.write(
        "specs/more.yaml", segment_manifest("more", [("u_9", "new@old-domain.example")])
    )
    assert staleness(with_ledger, saved, "seg") == "the manifests changed since the plan was made"


def test_saved_plan_holds_no_raw_values(proj: Proj) -> None:
    proj.add_all_vendors()
    result = run_cli("plan", "--out", "saved.plan", "--show-values")
    assert result.code == 0
    data = (proj.root / "saved.plan").read_bytes()
    values = {v for item in proj.items() for v in raw_values(item)}
    assert set(RAW_VALUES) <= values
    for raw in values:
        assert raw.encode() not in data, raw
    saved = load_plan(proj.root / "saved.plan", None)
    assert saved.header["kind"] == PLAN_KIND
    assert saved.head["values_shown"] is False
    # ... while --show-values did show them on stdout
    assert "jane@old-domain.example" in result.out


def test_saved_plan_lists_what_apply_may_send(with_ledger: Proj) -> None:
    saved = save(with_ledger)
    plan = with_ledger.plan()
    # sorted by fingerprint within each target, 128 bits each
    expected = [
        (tp.target.name, a.fingerprint[:32], a.state, a.action)
        for tp in plan.targets
        for a in sorted(tp.actions, key=lambda a: a.fingerprint)
    ]
    assert records(saved) == expected
    assert {state for _, _, state, _ in expected} == {"pending", "done"}
    assert saved.head["desired_digest"] == plan.desired_digest
    assert saved.head["ledger"] == {
        "exists": True,
        "lineage": plan.ledger.lineage,
        "serial": 5,
        "digest": plan.ledger.digest,
        "head": plan.ledger.head,
    }


def test_text_plan_says_how_to_apply_the_saved_plan(with_ledger: Proj) -> None:
    result = run_cli("plan", "--out", "saved.plan")
    assert "Saved the plan to saved.plan" in result.out
    assert "reconcile apply saved.plan" in result.out
    json_result = run_cli("plan", "--format", "json", "--out", "saved.plan")
    assert "Saved the plan" not in json_result.out
    json.loads(json_result.out)


def test_save_replaces_atomically_and_leaves_no_temp_file(with_ledger: Proj) -> None:
    path = with_ledger.root / "p.plan"
    path.write_text("old")
    plan = with_ledger.plan()
    fingerprint, _ = fingerprinter_for(read_ledger(with_ledger.ledger_dir), None)
    save_plan(path, plan, Seal(None), PlanStamp("c" * 32, {}), fingerprint)
    assert load_plan(path, None).header["kind"] == PLAN_KIND
    assert sorted(p.name for p in with_ledger.root.iterdir() if p.name.startswith(".p")) == []


def test_load_plan_refuses_what_is_not_a_plan(tmp_path: Path) -> None:
    with pytest.raises(ReconcilerError, match="no such plan file"):
        load_plan(tmp_path / "missing.plan", None)
    garbage = tmp_path / "garbage.plan"
    garbage.write_text("{not json")
    with pytest.raises(ReconcilerError, match="not a saved plan"):
        load_plan(garbage, None)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format_version": "1"}))
    with pytest.raises(ReconcilerError, match="made by `reconcile plan --out`"):
        load_plan(other, None)
    binary = tmp_path / "binary.plan"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ReconcilerError, match="made by `reconcile plan --out`"):
        load_plan(binary, None)
    future = tmp_path / "future.plan"
    future.write_bytes(b"\x89RPLAN\r\n\x00\x03" + bytes(64))
    with pytest.raises(ReconcilerError, match="plan file format 3 is not 2"):
        load_plan(future, None)

"""Chain order (issue 18, item 2): the fold follows which run continues which, never
file names or timestamps; merged branches fold the same on every machine, and an item
with conflicting outcomes in them is held for a person."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from reconciler.ledger.store import RunWriter, read_ledger, run_files
from reconciler.ledger.verify import verify_ledger
from reconciler.states import DONE, FAILED, UNKNOWN
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.ledger.sealed import lines_of, reseal, write_lines

FPS = [hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(8)]


@pytest.mark.parametrize("name", ["20990101T000000000000Z", "19990101T000000000000Z"])
def test_a_renamed_run_file_folds_in_chain_order(proj: Proj, name: str) -> None:
    """r1 failed, r2 (continuing r1) done: whatever r1's file is called, done wins."""
    proj.create_ledger()
    first = write_run(proj.ledger_dir, [(FPS[0], "seg", "failed")], "r1").path
    write_run(proj.ledger_dir, [(FPS[0], "seg", "done")], "r2")
    for renamed in (f"{name}-r1.jsonl", f"{name}-anything.jsonl"):
        target = first.with_name(renamed)
        first.rename(target)
        first = target
        ledger = read_ledger(proj.ledger_dir)
        assert ledger.ok, ledger.breaks
        assert ledger.state_of(FPS[0]) == DONE and ledger.items[FPS[0]].run == "r2"
    # verify explains the rename: the fold does not depend on it
    result = run_cli("ledger", "verify")
    assert result.code == 0
    assert f"{first.name}: the name does not match the run it holds (r1, part 1)" in result.err


def test_timestamps_play_no_part_and_skew_is_explained(proj: Proj) -> None:
    """r1 written by a clock 73 years ahead (name and records), r2 after it on a good
    clock: r2's outcome wins, and verify says why the dates look wrong."""
    proj.create_ledger()
    r1 = write_run(proj.ledger_dir, [(FPS[0], "seg", "failed")], "r1")
    lines = [
        line.replace(b'"ts":"2026', b'"ts":"2099').replace(b'"ts":"2025', b'"ts":"2099')
        for line in lines_of(r1.path)
    ]
    write_lines(r1.path, reseal(lines, None))  # unkeyed: anyone can recompute the chain
    r1.path.rename(r1.path.with_name("20990101T000000000000Z-r1.jsonl"))
    write_run(proj.ledger_dir, [(FPS[0], "seg", "done")], "r2")
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    assert ledger.state_of(FPS[0]) == DONE
    warnings = "\n".join(ledger.warnings)
    assert "dated 2099-" in warnings and "in the future" in warnings
    assert "before the run it continues ended (2099-" in warnings
    assert verify_ledger(proj.ledger_dir).ok


def merged(proj: Proj, tmp_path: Path, ours: list, theirs: list) -> tuple[Path, Path]:
    """A base run, then one run on each of two branches, merged by keeping both files."""
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FPS[7], "seg", "done")], "base")
    branch = proj.copy_ledger(tmp_path / "branch")
    a = write_run(proj.ledger_dir, ours, "ours").path
    b = write_run(branch, theirs, "theirs").path
    shutil.copy(b, proj.ledger_dir / "runs" / b.name)
    return a, proj.ledger_dir / "runs" / b.name


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("done", "failed"), ("done", "unknown"), ("accepted", "rejected"), ("failed", "done")],
)
def test_conflicting_outcomes_in_merged_branches_are_held(
    proj: Proj, tmp_path: Path, ours: str, theirs: str
) -> None:
    merged(proj, tmp_path, [(FPS[0], "braze", ours)], [(FPS[0], "braze", theirs)])
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    status = ledger.items[FPS[0]]
    assert status.state == UNKNOWN and status.held
    assert status.conflict is not None
    assert f"{ours} in run ours" in status.conflict and f"{theirs} in run theirs" in status.conflict
    assert ledger.conflicts == 1
    result = run_cli("ledger", "verify")
    assert result.code == 0
    assert "1 item(s) have conflicting outcomes in runs of merged branches" in result.err


def test_the_fold_of_a_merge_does_not_depend_on_names(proj: Proj, tmp_path: Path) -> None:
    a, b = merged(
        proj,
        tmp_path,
        [(FPS[0], "seg", "done"), (FPS[1], "seg", "failed"), (FPS[2], "seg", "done")],
        [(FPS[0], "seg", "failed"), (FPS[1], "seg", "failed"), (FPS[3], "seg", "done")],
    )
    before = {fp: (s.state, s.conflict) for fp, s in read_ledger(proj.ledger_dir).items.items()}
    a.rename(a.with_name("00000000T000000000000Z-x.jsonl"))
    b.rename(b.with_name("99999999T000000000000Z-y.jsonl"))
    after = {fp: (s.state, s.conflict) for fp, s in read_ledger(proj.ledger_dir).items.items()}
    assert after == before
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.items[FPS[0]].held  # done here, failed there
    assert ledger.state_of(FPS[1]) == FAILED and not ledger.items[FPS[1]].held  # agree
    assert ledger.state_of(FPS[2]) == DONE and ledger.state_of(FPS[3]) == DONE


def test_a_run_after_the_merge_continues_from_both_and_settles_nothing_by_itself(
    proj: Proj, tmp_path: Path
) -> None:
    merged(proj, tmp_path, [(FPS[0], "braze", "done")], [(FPS[0], "braze", "failed")])
    heads = read_ledger(proj.ledger_dir).heads
    assert len(heads) == 2
    nxt = write_run(proj.ledger_dir, [(FPS[1], "seg", "done")], "next")
    assert json.loads(lines_of(nxt.path)[0])["after"] == heads
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.heads == [nxt.head]
    assert ledger.items[FPS[0]].held  # still a person's call
    # a person decides; the decision descends from both sides and settles it
    writer = RunWriter(proj.ledger_dir, "resolve", {"operation": "resolve"})
    writer.resolution(FPS[0], "braze", "done", "user gone in the dashboard", "ana@ops")
    writer.close()
    settled = read_ledger(proj.ledger_dir).items[FPS[0]]
    assert (settled.state, settled.evidence, settled.held) == (DONE, "resolved", False)


def test_an_outcome_on_one_side_after_agreement_still_conflicts_with_the_other(
    proj: Proj, tmp_path: Path
) -> None:
    """Both branches say done; one branch then records failed. Whatever order the fold
    reads the branches in, the other branch's done is still concurrent with that failed."""
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FPS[7], "seg", "done")], "base")
    branch = proj.copy_ledger(tmp_path / "branch")
    write_run(proj.ledger_dir, [(FPS[0], "seg", "done")], "a1")
    write_run(proj.ledger_dir, [(FPS[0], "seg", "failed")], "a2")
    other = write_run(branch, [(FPS[0], "seg", "done")], "b1").path
    shutil.copy(other, proj.ledger_dir / "runs" / other.name)
    status = read_ledger(proj.ledger_dir).items[FPS[0]]
    assert status.held and "failed in run a2" in (status.conflict or "")


def test_plan_holds_a_conflicted_item_and_says_why(proj: Proj, tmp_path: Path) -> None:
    proj.add_all_vendors()
    seg = proj.items("seg")[0]
    proj.create_ledger()
    fp = proj.fp(seg)
    write_run(proj.ledger_dir, [], "base")
    branch = proj.copy_ledger(tmp_path / "branch")
    write_run(proj.ledger_dir, [(fp, "seg", "done")], "ours")
    theirs = write_run(branch, [(fp, "seg", "failed")], "theirs").path
    shutil.copy(theirs, proj.ledger_dir / "runs" / theirs.name)
    plan = proj.plan()
    (action,) = [a for a in plan.actions() if a.fingerprint == fp]
    assert action.held and action.action == "hold" and not action.will_send
    assert plan.summary.held == 1 and plan.summary.to_retry == 0
    text = run_cli("plan")
    assert "runs of merged branches recorded conflicting outcomes" in text.out
    as_json = json.loads(run_cli("plan", "--format", "json").out)
    (entry,) = [a for a in as_json["actions"] if a["fingerprint"] == fp]
    assert (entry["state"], entry["action"]) == ("unknown", "hold")


def test_a_copy_of_a_run_file_is_a_bad_merge(proj: Proj) -> None:
    proj.create_ledger()
    first = write_run(proj.ledger_dir, [(FPS[0], "seg", "done")], "r1").path
    copy = first.with_name("20300101T000000000000Z-r1.jsonl")
    shutil.copy(first, copy)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [
        f"{copy.name}:1: a copy of {first.name} (the same run and records under another name: "
        "a bad merge kept both); remove one of them"
    ]
    assert read_ledger(proj.ledger_dir).state_of(FPS[0]) == DONE


def test_a_run_file_deleted_from_the_middle_is_found(proj: Proj) -> None:
    proj.create_ledger()
    runs = [write_run(proj.ledger_dir, [(FPS[i], "seg", "done")], f"r{i}").path for i in range(3)]
    runs[1].unlink()
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [
        f"{runs[2].name}:1: the run's first record points at a record the ledger does not hold "
        "(a file was removed or edited)"
    ]


def test_two_writers_at_once_split_the_first_run(proj: Proj) -> None:
    """A second run started from the middle of a live one (a lock broken under it): the
    first run's later records are concurrent with the second run."""
    proj.create_ledger()
    live = RunWriter(proj.ledger_dir, "live", {})
    live.intents([FPS[0]], "braze", "d" * 64)
    second = RunWriter(proj.ledger_dir, "second", {})  # continues from live's intent
    live.results([{"fp": FPS[0], "target": "braze", "status": "accepted", "code": 201}])
    live.close()
    second.intents([FPS[1]], "braze", "d" * 64)
    second.close()
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    assert ledger.state_of(FPS[0]) == "accepted" and ledger.state_of(FPS[1]) == UNKNOWN
    assert len(ledger.heads) == 2  # live's end and second's end
    assert len(run_files(proj.ledger_dir)) == 2

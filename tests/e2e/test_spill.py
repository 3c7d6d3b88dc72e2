"""A project planned on disk (the desired state spilled past a tiny threshold) prints,
saves and applies exactly what the same project planned in memory does."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.ledger.verify import item_events
from tests.kit.cli import CliResult
from tests.kit.e2e import SPACE, Project, removal, summary, vendor_requests

NEVER = 10**9  # a threshold no test project reaches: planned in memory, as before


def _spill_at(project: Project, n: int) -> None:
    project.monkeypatch.setattr("reconciler.plan.build.SPILL_ITEMS", n)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def add_bulk(project: Project) -> None:
    """CSV sources on three targets, with items declared twice in one file, again in
    another file and again in a YAML manifest (one item, all its sources)."""
    specs = project.root / "specs"
    seg_rows = [
        [f"u_{i % 150:04d}", "email", f"user{i % 150}@old-domain.example"] for i in range(180)
    ]
    seg_rows += [["u_1001", "email", "jane@old-domain.example"]]  # also in segment.yaml
    _write_csv(specs / "seg-bulk.csv", ["user_id", "type", "value"], seg_rows)
    _write_csv(
        specs / "seg-more.csv",
        ["user_id", "type", "value"],
        [[f"u_{i:04d}", "phone", f"+1555556{i:04d}"] for i in range(140, 60, -1)]
        + [[f"u_{i:04d}", "email", f"user{i}@old-domain.example"] for i in range(0, 150, 7)],
    )
    _write_csv(
        specs / "brz-bulk.csv",
        ["external_id"],
        [[f"ext_{i:04d}"] for i in range(60)] + [["ext_1002"], ["ext_0003"]],
    )
    _write_csv(
        specs / "ins-bulk.csv",
        ["type", "value"],
        [["uuid", f"u-{i:04d}"] for i in range(40)] + [["uuid", "u-1001"]],
    )
    manifests: dict[str, dict[str, Any]] = {
        "seg-bulk.yaml": removal(
            "seg-bulk", "seg", {"absent_csv": ["seg-bulk.csv", "seg-more.csv"]}
        ),
        "brz-bulk.yaml": removal(
            "brz-bulk", "brz", {"delete_profiles": True, "absent_csv": ["brz-bulk.csv"]}
        ),
        "ins-bulk.yaml": removal("ins-bulk", "ins", {"absent_csv": ["ins-bulk.csv"]}),
    }
    project.write_specs(manifests)


def outputs(project: Project) -> dict[str, Any]:
    """Everything plan and show print or write, by what was asked."""
    got: dict[str, Any] = {}
    for name, args in {
        "text": ("plan",),
        "full": ("plan", "--full"),
        "compact": ("plan", "--compact", "--full"),
        "json": ("plan", "--format", "json"),
        "json-values": ("plan", "--format", "json", "--show-values"),
        "markdown": ("plan", "--format", "markdown", "--commit", "abc123"),
        "target": ("plan", "--target", "seg", "--target", "ins", "--format", "json"),
    }.items():
        result = project.cli(*args)
        assert result.code == 0, result.output
        got[name] = (result.out, result.err)
    saved = project.root / "spill-test.plan"
    for name, args in {
        "saved": (),
        "saved-target": ("--target", "brz"),
    }.items():
        saved.unlink(missing_ok=True)
        result = project.cli("plan", "--out", str(saved), "--summary", *args)
        assert result.code == 0, result.output
        got[name] = saved.read_bytes()
        shown = project.cli("show", str(saved), "--format", "json")
        assert shown.code == 0, shown.output
        got[name + "-shown"] = shown.out
    saved.unlink()
    return got


@pytest.fixture
def bulk(project: Project) -> Project:
    # a first apply makes the ledger (its salt keys the fingerprints) and records
    # removed, accepted and absent items; then the bulk sources make most pending
    first = project.cli("apply", "--auto-approve")
    assert first.code == 0, first.output
    add_bulk(project)
    return project


def test_plan_outputs_are_the_same_spilled_or_in_memory(bulk: Project) -> None:
    _spill_at(bulk, NEVER)
    in_memory = outputs(bulk)
    assert "brz-bulk" in in_memory["json"][0] and "seg-more.csv" in in_memory["full"][0]
    for threshold in (1, 5, 16):
        _spill_at(bulk, threshold)
        spilled = outputs(bulk)
        for name, value in in_memory.items():
            assert spilled[name] == value, (threshold, name)


def _results(project: Project) -> list[tuple[str, str, Any]]:
    """Every result the ledger records: (item key, state, HTTP code), sorted."""
    return sorted(
        (e["fp"], e.get("state", ""), e.get("code"))
        for e in item_events(project.ledger_dir)
        if e["type"] == "result"
    )


def _requests(sandbox: Any) -> dict[str, list[tuple[str, str, str, int]]]:
    """The vendor requests the sandbox answered, each vendor's in the order it saw them
    (targets are sent to side by side)."""
    out: dict[str, list[tuple[str, str, str, int]]] = {}
    for e in vendor_requests(sandbox):
        out.setdefault(e["vendor"], []).append((e["method"], e["path"], e["query"], e["status"]))
    return out


def _twin(bulk: Project, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A copy of the project, ledger included, to apply the same plan a second time."""
    root = tmp_path_factory.mktemp("twin")
    shutil.copytree(bulk.root, root, dirs_exist_ok=True)
    bulk.monkeypatch.chdir(bulk.root)
    return Project(root, bulk.urls, bulk.capsys, bulk.monkeypatch)


def _apply_saved(project: Project, sandbox: Any) -> tuple[CliResult, Any, Any, Any]:
    project.monkeypatch.chdir(project.root)
    sandbox.control.reset()
    saved = project.root / "bulk.plan"
    made = project.cli("plan", "--out", str(saved))
    assert made.code == 0, made.output
    refused = project.cli("apply", str(saved), "--max-deletions", "0")
    assert refused.code == 1 and "more than the limit of 0" in refused.err, refused.output
    result = project.cli("apply", str(saved), "--parallelism", "1")
    sandbox.control.settle()
    return result, _results(project), _requests(sandbox), sandbox.control.state()


def test_apply_of_a_spilled_plan_sends_and_records_what_an_in_memory_one_does(
    bulk: Project, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    twin = _twin(bulk, tmp_path_factory)
    _spill_at(bulk, NEVER)
    in_memory = _apply_saved(bulk, sandbox)
    # the bulk users are not in the sandbox: Segment rejects them (exit 1)
    assert in_memory[0].code == 1, in_memory[0].output
    _, accepted, absent, _, rejected = summary(in_memory[0])
    assert accepted and absent and rejected

    _spill_at(twin, 3)
    spilled = _apply_saved(twin, sandbox)
    assert spilled[0].code == in_memory[0].code, spilled[0].output
    assert summary(spilled[0]) == summary(in_memory[0])
    assert spilled[1] == in_memory[1]  # the same results recorded
    assert spilled[2] == in_memory[2]  # the same requests, in the same order
    assert spilled[3] == in_memory[3]  # and the vendors left in the same state

    # the plan after it, from the ledger that apply wrote: the same again
    _spill_at(twin, NEVER)
    after = outputs(twin)
    _spill_at(twin, 4)
    assert outputs(twin) == after
    assert "already removed" in after["text"][0] and "Rejected by the vendor" in after["full"][0]


def test_a_fresh_apply_of_a_spilled_plan_sends_what_an_in_memory_one_does(
    bulk: Project, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    twin = _twin(bulk, tmp_path_factory)
    runs = []
    for project, threshold in ((bulk, NEVER), (twin, 2)):
        project.monkeypatch.chdir(project.root)
        _spill_at(project, threshold)
        sandbox.control.reset()
        result = project.cli("apply", "--auto-approve", "--parallelism", "1")
        assert result.code == 1, result.output  # Segment rejects the bulk users
        runs.append((result.out.split("\nApply")[0], _results(project), _requests(sandbox)))
    assert runs[1] == runs[0]
    assert sum(len(r) for r in runs[0][2].values()) > 50


def test_show_of_a_large_saved_plan_is_rebuilt_on_disk(bulk: Project) -> None:
    """Past the threshold `show` makes the plan as `plan` did, on disk (never the
    in-memory rebuild, which holds every item), and prints the same bytes."""
    _spill_at(bulk, 4)
    saved = bulk.root / "large.plan"
    made = bulk.cli("plan", "--out", str(saved))
    assert made.code == 0, made.output
    planned = bulk.cli("plan", "--format", "json")

    def in_memory(*_: Any) -> None:
        raise AssertionError("a spilled plan rebuilt in memory")

    bulk.monkeypatch.setattr("reconciler.plan.show._rebuild", in_memory)
    shown = bulk.cli("show", str(saved), "--format", "json")
    assert shown.code == 0, shown.output
    assert shown.out == planned.out and '"brz-bulk"' in shown.out


def _apply_reviewed(project: Project, sandbox: Any) -> tuple[str, str, int, Any, Any]:
    """Review a plan, add an item after the review, apply the reviewed plan."""
    project.monkeypatch.chdir(project.root)
    sandbox.control.reset()
    saved = project.root / "reviewed.plan"
    made = project.cli("plan", "--out", str(saved))
    assert made.code == 0, made.output
    with (project.root / "specs" / "brz-bulk.csv").open("a", encoding="utf-8") as handle:
        handle.write("ext_late_1\next_late_2\n")  # after the review: never sent
    result = project.cli("apply", "--reviewed", str(saved), "--parallelism", "1")
    sandbox.control.settle()
    out = result.out.split(" (run ")[0]
    # progress and rates are timings: the rest of what it says
    err = [
        line
        for line in result.err.splitlines()
        if not re.match(r"\S+: \d+/\d+ ", line) and "requests/s" not in line
    ]
    return out, "\n".join(err), result.code, _results(project), _requests(sandbox)


def test_a_reviewed_apply_of_a_spilled_plan_sends_what_an_in_memory_one_does(
    bulk: Project, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    twin = _twin(bulk, tmp_path_factory)
    _spill_at(bulk, NEVER)
    in_memory = _apply_reviewed(bulk, sandbox)
    assert in_memory[2] == 1  # unreviewed actions: exit 1
    assert "Not sent: 2 pending action(s) that the reviewed plan did not show" in in_memory[1]
    assert "ext_late" not in str(in_memory[4])
    _spill_at(twin, 3)
    spilled = _apply_reviewed(twin, sandbox)
    assert spilled == in_memory


def test_a_spilled_plan_with_a_drifted_item_is_the_in_memory_one(project, sandbox) -> None:
    """A drifted item carries the time it was seen back (`since`): the saved plan numbers
    those times in its header, so a spilled target that has one is counted item by item
    (one that has none is counted as it was built)."""
    first = project.cli("apply", "--auto-approve")
    assert first.code == 0, first.output
    sandbox.control.settle()
    sandbox.control.reintroduce(
        {"vendor": "segment", "space_id": SPACE, "user_id": "u_1001", "type": "email",
         "id": "jane@old-domain.example"}
    )  # fmt: skip
    refreshed = project.cli("refresh", "--min-age", "0", "--queue-window", "0")
    assert refreshed.code == 0 and "1 back again (drifted)" in refreshed.out, refreshed.output
    add_bulk(project)
    _spill_at(project, NEVER)
    in_memory = outputs(project)
    assert '"state": "drifted"' in in_memory["json"][0]
    for threshold in (1, 16):
        _spill_at(project, threshold)
        spilled = outputs(project)
        for name, value in in_memory.items():
            assert spilled[name] == value, (threshold, name)

"""Desired state vs ledger: a table of scenarios and the summary each plan must print.

The summary line is public (wrappers parse it): its wording is asserted exactly, in the
text, JSON and markdown outputs alike, with the --detailed-exitcode that goes with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pytest

from reconciler.plan.model import Summary
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.kit.specs import segment_manifest

NO_CHANGES = "No changes. Every declared absence is already recorded in the ledger."


def line(remove: int, removed: int, unknown: int, retry: int, held: int = 0) -> str:
    return (
        f"Plan: {remove} to remove, {removed} already removed, {unknown} unknown, "
        f"{retry} to retry, {held} held."
    )


@dataclass
class Scenario:
    name: str
    declared: int  # items declared (one per profile)
    # runs written before the plan: each a {item index: outcome}
    runs: list[dict[int, str]]
    line: str
    code: int  # with --detailed-exitcode
    orphans: list[str] = field(default_factory=list)  # outcomes of no-longer-declared items
    rejected: int = 0


SCENARIOS = [
    Scenario("no ledger yet", 3, [], line(3, 0, 0, 0), 2),
    Scenario("empty ledger", 2, [{}], line(2, 0, 0, 0), 2),
    Scenario("all done", 3, [{0: "done", 1: "done", 2: "done"}], NO_CHANGES, 0),
    Scenario("accepted counts as removed", 2, [{0: "accepted", 1: "done"}], NO_CHANGES, 0),
    Scenario("half done", 4, [{0: "done", 1: "done"}], line(2, 2, 0, 0), 2),
    Scenario("killed apply leaves unknowns", 3, [{0: "done", 1: "unknown", 2: "unknown"}],
             line(0, 1, 2, 0), 2),
    Scenario("failures are retried", 2, [{0: "failed", 1: "done"}], line(0, 1, 0, 1), 2),
    Scenario("rejected is not retried", 2, [{0: "rejected", 1: "done"}],
             "No changes. 1 item(s) were rejected by the vendor and are not retried until "
             "their manifest entries change.", 0, rejected=1),
    Scenario("drifted is removed again", 2, [{0: "done", 1: "done"}, {0: "present"}],
             line(1, 1, 0, 0), 2),
    Scenario("every state at once", 7,
             [{0: "done", 1: "accepted", 2: "unknown", 3: "failed", 4: "rejected", 5: "done"},
              {5: "present"}],
             line(2, 2, 1, 1), 2, rejected=1),
    Scenario("failed then done on a later run", 1, [{0: "failed"}, {0: "done"}], NO_CHANGES, 0),
    Scenario("nothing declared", 0, [], NO_CHANGES, 0),
    Scenario("orphans are information only", 1, [{0: "done"}], NO_CHANGES, 0,
             orphans=["done", "failed"]),
]  # fmt: skip


def setup(proj: Proj, s: Scenario) -> list[str]:
    """Write the scenario's manifest and ledger; the declared items' fingerprints."""
    pairs = [(f"u_{i:04d}", f"user{i}@old-domain.example") for i in range(s.declared)]
    if pairs:
        proj.write("specs/seg.yaml", segment_manifest("seg-scenario", pairs))
    if not s.runs and not s.orphans:
        return []
    proj.create_ledger()
    items = proj.items()
    fps = [proj.fp(i) for i in items]
    orphan_fps = [hashlib.sha256(f"gone-{n}".encode()).hexdigest() for n in range(len(s.orphans))]
    for n, run in enumerate(s.runs):
        extra = list(zip(orphan_fps, s.orphans, strict=True)) if n == 0 else []
        write_run(
            proj.ledger_dir,
            [(fps[i], "seg", o) for i, o in run.items()] + [(fp, "seg", o) for fp, o in extra],
            run_id=f"r{n}",
        )
    return fps


@pytest.mark.parametrize("s", SCENARIOS, ids=lambda s: s.name)
def test_scenario_summary(proj: Proj, s: Scenario) -> None:
    setup(proj, s)
    plan = proj.plan()
    assert plan.summary.line() == s.line
    assert plan.summary.rejected == s.rejected
    (seg,) = [tp for tp in plan.targets if tp.target.name == "seg"]
    assert len(seg.actions) == s.declared
    assert len(seg.orphaned) == len(s.orphans)

    text = run_cli("plan", "--detailed-exitcode")
    assert text.code == s.code, text.output
    assert text.out.rstrip("\n").splitlines()[-1] == s.line
    assert text.out.count("Plan: ") + text.out.count("No changes.") == 1

    js = run_cli("plan", "--format", "json", "--detailed-exitcode")
    assert js.code == s.code
    assert json.loads(js.out)["summary"]["line"] == s.line

    md = run_cli("plan", "--format", "markdown", "--detailed-exitcode")
    assert md.code == s.code
    assert f"**{s.line}**" in md.out

    plain = run_cli("plan")
    assert plain.code == 0  # without --detailed-exitcode, changes are success


def test_summary_line_wording_is_fixed() -> None:
    s = Summary(to_remove=1, already_removed=22, unknown=333, to_retry=4444, rejected=5)
    assert s.line() == "Plan: 1 to remove, 22 already removed, 333 unknown, 4444 to retry, 0 held."
    assert s.changes == 1 + 333 + 4444
    # "every declared absence is recorded" would be false with rejected items
    assert Summary(already_removed=3, rejected=2).line() == (
        "No changes. 2 item(s) were rejected by the vendor and are not retried until "
        "their manifest entries change."
    )
    assert Summary(already_removed=3).line() == NO_CHANGES


def test_states_and_actions_per_item(proj: Proj) -> None:
    s = SCENARIOS[9]  # every state at once
    fps = setup(proj, s)
    plan = proj.plan()
    (seg,) = [tp for tp in plan.targets if tp.target.name == "seg"]
    by_fp = {a.fingerprint: a for a in seg.actions}
    got = [(by_fp[fp].state, by_fp[fp].action, by_fp[fp].will_send) for fp in fps]
    assert got == [
        ("done", "none", False),
        ("accepted", "none", False),
        ("unknown", "resend", True),
        ("failed", "retry", True),
        ("rejected", "none", False),
        ("drifted", "remove", True),
        ("pending", "remove", True),
    ]
    assert [a.fingerprint for a in seg.sends()] == [fps[2], fps[3], fps[5], fps[6]]


def test_targets_are_counted_separately(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    braze = proj.items("braze")
    write_run(proj.ledger_dir, [(proj.fp(i), "braze", "accepted") for i in braze])
    plan = proj.plan()
    counts = {
        tp.target.name: (tp.summary.to_remove, tp.summary.already_removed) for tp in plan.targets
    }
    assert counts == {"seg": (5, 0), "braze": (0, 3), "mem": (2, 0), "ins": (3, 0)}
    assert [tp.target.name for tp in plan.targets] == ["seg", "braze", "mem", "ins"]
    assert (
        plan.summary.line()
        == "Plan: 10 to remove, 3 already removed, 0 unknown, 0 to retry, 0 held."
    )


def test_an_item_declared_twice_is_one_action_with_two_sources(proj: Proj) -> None:
    proj.write("specs/a.yaml", segment_manifest("first", [("u_1", "x@old-domain.example")]))
    proj.write("specs/b.yaml", segment_manifest("second", [("u_1", "x@old-domain.example")]))
    plan = proj.plan()
    (action,) = plan.actions()
    assert [(s.manifest, s.file, s.line) for s in action.sources] == [
        ("first", "specs/a.yaml", 10),
        ("second", "specs/b.yaml", 10),
    ]
    assert plan.summary.to_remove == 1


def test_held_items_are_in_the_summary_line_whether_or_not_there_is_work() -> None:
    from reconciler.plan.model import Summary

    busy = Summary(to_remove=2, unknown=1, held=3)
    assert busy.line() == "Plan: 2 to remove, 0 already removed, 1 unknown, 0 to retry, 3 held."
    assert busy.changes == 3  # held items are never part of what apply sends
    idle = Summary(already_removed=5, held=3)
    assert idle.changes == 0
    assert idle.line() == "No changes. 3 item(s) are held for review (outcome unknown)."

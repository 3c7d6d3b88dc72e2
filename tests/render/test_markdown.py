"""The pull-request comment: summary tables, folds, and the cut to GitHub's limit."""

from __future__ import annotations

import re
import time

import pytest

from reconciler.config import Target
from reconciler.desired import Item, Source
from reconciler.plan.model import Action, LedgerRef, Plan, TargetPlan
from reconciler.render.markdown import GITHUB_LIMIT, render_markdown
from tests.ledger.kit import RAW_VALUES, Proj, run_cli, write_run

SEG = Target("seg", "segment", "https://profiles.segment.com", {"space_id": "spa_1"})
BRAZE = Target("braze", "braze", "https://rest.iad-01.braze.com", {})


def big_plan(per_target: list[tuple[Target, int]], state: str = "pending") -> Plan:
    """A plan built directly (no YAML): `n` segment identifier or braze profile actions
    per target."""
    targets = []
    for target, n in per_target:
        tp = TargetPlan(target)
        src = [Source("bulk", "specs/bulk.csv", 2)]
        for i in range(n):
            if target.vendor == "segment":
                item = Item(
                    target.name,
                    "segment",
                    {"user_id": f"u_{i:07d}"},
                    {"kind": "identifier", "type": "email", "value": f"user{i}@old-domain.example"},
                )
            else:
                item = Item(
                    target.name, "braze", {"external_id": f"ext-{i:07d}"}, {"kind": "profile"}
                )
            tp.actions.append(Action.of(f"{i:064x}", item, src, state))
            tp.summary.count(state)
        targets.append(tp)
    return Plan(targets, LedgerRef(False, None, 0, "0" * 64), "0" * 64, "hmac-sha256", "0" * 16)


def assert_well_formed(md: str) -> None:
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```") % 2 == 0
    # folds and fences alternate properly: each fold opens one fence and closes it
    for block in re.findall(r"<details>.*?</details>", md, flags=re.S):
        assert block.count("```") == 2
    assert md.endswith("\n")


def test_100000_actions_are_cut_under_the_limit_with_everything_closed() -> None:
    total = 100_000
    plan = big_plan([(SEG, 60_000), (BRAZE, 40_000)])
    started = time.perf_counter()
    md = render_markdown(plan)
    elapsed = time.perf_counter() - started
    assert len(md) <= GITHUB_LIMIT
    assert len(md) > GITHUB_LIMIT - 2_000  # the room is used, not wasted
    assert_well_formed(md)
    lines = md.rstrip("\n").splitlines()
    written = sum(1 for line in lines if line.startswith(("- ", "! ")))
    assert 0 < written < total
    last = lines[-1]
    left = total - written
    assert last.startswith(
        f"**Cut to fit GitHub's comment limit: {left} of {total} actions left out.**"
    )
    # every action line is whole: it ends with its source
    for line in lines:
        if line.startswith(("- ", "! ")):
            assert line.endswith("# bulk, specs/bulk.csv:2"), line
    # the summary table is complete even though the actions are cut
    assert "| `seg` | segment | 60000 | 0 | 0 | 0 | 0 |" in md
    assert "| `braze` | braze | 40000 | 0 | 0 | 0 | 0 |" in md
    assert "**Plan: 100000 to remove, 0 already removed, 0 unknown, 0 to retry.**" in md
    assert "user1@old-domain.example" not in md
    assert elapsed < 20


@pytest.mark.parametrize("limit", [2_500, 3_000, 4_321, 10_000])
def test_small_limits_cut_at_a_line_boundary(limit: int) -> None:
    plan = big_plan([(SEG, 300), (BRAZE, 300)])
    md = render_markdown(plan, limit=limit)
    assert len(md) <= limit
    assert_well_formed(md)
    assert re.search(r"(\d+) of 600 actions left out", md)


def test_a_plan_that_fits_is_not_cut() -> None:
    plan = big_plan([(SEG, 40), (BRAZE, 3)])
    md = render_markdown(plan)
    assert "left out" not in md
    assert_well_formed(md)
    assert "<details><summary>seg: 40 action(s)</summary>" in md
    assert "<details><summary>braze: 3 action(s)</summary>" in md
    assert md.count("\n- email u***@old-domain.example on user_id ") == 40
    assert md.count("\n! user profile external_id ") == 3
    assert "**(irreversible)**" in md


def test_nothing_to_send_has_no_folds() -> None:
    plan = big_plan([(SEG, 5)], state="done")
    md = render_markdown(plan)
    assert "<details>" not in md
    assert "**No changes. Every declared absence is already recorded in the ledger.**" in md
    assert "| `seg` | segment | 0 | 5 | 0 | 0 | 0 |" in md


def test_markdown_of_a_project(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    seg = proj.items("seg")
    write_run(
        proj.ledger_dir,
        [(proj.fp(seg[0]), "seg", "unknown"), (proj.fp(seg[1]), "seg", "failed")],
    )
    result = run_cli("plan", "--format", "markdown")
    assert result.code == 0
    md = result.out
    assert md.startswith("### reconcile plan\n")
    assert_well_formed(md)
    assert "| `seg` | segment | 3 | 0 | 1 | 1 | 0 |" in md
    assert "> Segment: downstream destinations" in md
    assert "Identifier values are masked." in md
    assert "\n? email j***@old-domain.example on user_id u_**01" in md
    assert "\n~ phone +1555*****00 on user_id u_**01" in md
    for raw in RAW_VALUES:
        assert raw not in md, raw
    shown = run_cli("plan", "--format", "markdown", "--show-values").out
    assert "Identifier values are masked." not in shown
    assert "jane@old-domain.example" in shown


def test_markdown_warns_about_target_filter(proj: Proj) -> None:
    proj.add_all_vendors()
    md = run_cli("plan", "--format", "markdown", "--target", "braze").out
    assert "`--target` in effect: only braze." in md
    assert "`seg`" not in md and "> Segment:" not in md


def test_markdown_mentions_orphans(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    write_run(proj.ledger_dir, [("ab" * 32, "mem", "done")])
    md = run_cli("plan", "--format", "markdown").out
    assert "1 item(s) in the ledger are no longer declared (orphaned)" in md
    assert "never un-deletes" in md


def test_fence_in_a_value_cannot_break_out() -> None:
    plan = big_plan([(SEG, 1)])
    action = plan.targets[0].actions[0]
    plan.targets[0].actions[0] = Action.of(
        action.fingerprint,
        Item("seg", "segment", {"user_id": "u_1"}, {"kind": "identifier", "type": "email",
                                                    "value": "a```b@x.example"}),
        action.sources,
        "pending",
    )  # fmt: skip
    md = render_markdown(plan, show_values=True)
    assert_well_formed(md)
    assert "a'''b@x.example" in md

"""The pull-request comment: summary tables, folds, and the cut to GitHub's limit."""

from __future__ import annotations

import re
import time

import pytest

from reconciler.desired import Item, Source
from reconciler.plan.model import Action, LedgerRef, Plan, TargetPlan
from reconciler.render.markdown import GITHUB_LIMIT, render_markdown, split_bodies
from reconciler.target import Target
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.kit.specs import RAW_VALUES

SEG = Target("seg", "segment", "https://profiles.segment.com", {"space_id": "spa_1"})
BRAZE = Target("braze", "braze", "https://rest.iad-01.braze.com", {})


MEM = Target("mem", "twilio_memory", "https://memory.twilio.com", {"store_id": "mem_store_1"})
BRAZE_HELD = Target("braze2", "braze", "https://rest.iad-01.braze.com", {})


def item_for(target: Target, i: int) -> Item:
    if target.vendor == "segment":
        return Item(
            target.name,
            "segment",
            {"user_id": f"u_{i:07d}"},
            {"kind": "identifier", "type": "email", "value": f"user{i}@old-domain.example"},
        )
    if target.vendor == "twilio_memory":
        profile = f"mem_profile_01h8x3k9q2w7e5r4t6y{i:07d}"
        return Item(
            target.name, "twilio_memory", {"profile_id": profile},
            {"kind": "identifier_type", "type": "phone"},
        )  # fmt: skip
    if target is BRAZE_HELD:
        return Item(
            target.name, "braze",
            {"email": f"held{i}@old-domain.example", "prioritization": ["identified"]},
            {"kind": "profile"},
        )  # fmt: skip
    return Item(target.name, "braze", {"external_id": f"ext-{i:07d}"}, {"kind": "profile"})


def big_plan(per_target: list[tuple[Target, int]], state: str = "pending") -> Plan:
    """A plan built directly (no YAML): `n` actions per target (segment identifiers,
    braze profiles by external id, BRAZE_HELD profiles by email, twilio identifier types)."""
    targets = []
    for target, n in per_target:
        tp = TargetPlan(target)
        for i in range(n):
            the_state = "unknown" if target is BRAZE_HELD else state
            src = [Source("bulk", "specs/bulk.csv", i + 2)]  # each line its own source
            action = Action.of(f"{i:064x}", item_for(target, i), src, the_state)
            tp.actions.append(action)
            tp.summary.count(the_state, action.held)
        targets.append(tp)
    return Plan(targets, LedgerRef(True, "lin", 7, "ab" * 32), "0" * 64, "hmac-sha256", "0" * 16)


def assert_well_formed(md: str) -> None:
    assert md.count("<details") == md.count("</details>")
    assert md.count("```") % 2 == 0
    # folds and fences alternate properly: each fold opens one fence and closes it
    for block in re.findall(r"<details.*?</details>", md, flags=re.S):
        assert block.count("```") == 2
    assert md.endswith("\n")


def bodies_ok(bodies: list[str], limit: int = GITHUB_LIMIT) -> str:
    """Every body within the limit, well formed, numbered in order; their text joined."""
    n = len(bodies)
    for i, body in enumerate(bodies, 1):
        assert len(body) <= limit, (i, len(body))
        assert body.startswith(f"<!-- reconcile:plan part={i}/{n} -->\n")
        assert_well_formed(body)
    assert split_bodies("".join(bodies)) == bodies
    return "".join(bodies)


def action_lines(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith(("- ", "! ", "  held"))]


def test_the_10000_item_comment_keeps_every_irreversible_and_held_action_and_every_target():
    plan = big_plan([(SEG, 5_000), (BRAZE, 3_000), (BRAZE_HELD, 500), (MEM, 1_500)])
    started = time.perf_counter()
    bodies = render_markdown(plan, commit="0123456789abcdef0123")
    elapsed = time.perf_counter() - started
    md = bodies_ok(bodies)
    assert len(bodies) > 1  # 3,500 irreversible and held lines do not fit in one comment
    lines = action_lines(md)
    irreversible = [line for line in lines if line.startswith("! ")]
    held = [line for line in lines if line.startswith("  held, NOT sent: ")]
    assert len(irreversible) == 3_000 and len(set(irreversible)) == 3_000
    assert len(held) == 500 and len(set(held)) == 500
    assert all("(irreversible)" in line for line in irreversible)
    # the rest is cut, but every target keeps its share, and says what was cut
    seg = [line for line in lines if "on user_id" in line]
    mem = [line for line in lines if line.startswith("- every phone value")]
    assert 0 < len(seg) < 5_000 and 0 < len(mem) < 1_500
    assert abs(len(seg) - len(mem)) <= 3  # round-robin: about the same number each
    assert f"{5_000 - len(seg)} of 5000 actions at `seg` left out" in md
    assert f"{1_500 - len(mem)} of 1500 actions at `mem` left out" in md
    assert "<summary>seg: " in md and "<summary>mem: " in md
    # the summary table, the commit, the ledger serial and the footer
    assert "| `braze` | braze | 3000 | 3000 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "| `braze2` | braze | 0 | 0 | 500 | 0 | 0 | 0 | 0 |" in md
    assert "| `seg` | segment | 5000 | 0 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "commit `0123456789ab`" in md and "ledger serial 7 (`abababababab`)" in md
    assert (
        bodies[-1]
        .rstrip()
        .endswith(
            "**Merging will send 9500 deletion(s)**, 3000 of them irreversible. "
            "500 held item(s) will not be sent."
        )
    )
    assert "user1@old-domain.example" not in md
    assert elapsed < 20


def test_100000_actions_fit_one_comment_when_none_is_irreversible() -> None:
    plan = big_plan([(SEG, 60_000), (MEM, 40_000)])
    bodies = render_markdown(plan)
    assert len(bodies) == 1
    md = bodies_ok(bodies)
    assert len(md) > GITHUB_LIMIT - 3_000  # the room is used, not wasted
    for line in action_lines(md):
        assert re.search(r"# bulk, specs/bulk.csv:\d+$", line), line  # every line whole


@pytest.mark.parametrize("limit", [4_000, 5_000, 10_000])
def test_small_limits_split_at_line_boundaries(limit: int) -> None:
    plan = big_plan([(SEG, 300), (BRAZE, 300)])
    bodies = render_markdown(plan, limit=limit)
    md = bodies_ok(bodies, limit)
    assert len([line for line in action_lines(md) if line.startswith("! ")]) == 300
    assert re.search(r"(\d+) of 300 actions at `seg` left out", md)


def test_a_plan_that_fits_is_not_cut() -> None:
    plan = big_plan([(SEG, 40), (BRAZE, 3)])
    [md] = render_markdown(plan)
    bodies_ok([md])
    assert "left out" not in md
    assert "<details><summary>seg: 40 action(s)</summary>" in md
    assert "<details open><summary>braze: 3 irreversible or held action(s)</summary>" in md
    assert md.count("\n- email u***@old-domain.example on user_id ") == 40
    assert md.count("\n! user profile external_id ") == 3
    assert "**Merging will send 43 deletion(s)**, 3 of them irreversible." in md


def test_nothing_to_send_has_no_folds() -> None:
    plan = big_plan([(SEG, 5)], state="done")
    [md] = render_markdown(plan)
    assert "<details>" not in md
    assert "**No changes. Every declared absence is already recorded in the ledger.**" in md
    assert "| `seg` | segment | 0 | 0 | 0 | 0 | 0 | 5 | 0 |" in md
    assert "**Merging will send nothing.**" in md


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
    assert md.startswith("<!-- reconcile:plan part=1/1 -->\n### reconcile plan\n")
    assert_well_formed(md)
    assert "| `seg` | segment | 3 | 0 | 0 | 1 | 1 | 0 | 0 |" in md
    assert "> Segment: downstream destinations" in md
    assert "Identifier values are masked." in md
    assert "\n- email j***@old-domain.example on user_id u_**01" in md
    assert "(send again: outcome unknown)" in md
    assert "\n- phone +1555*****00 on user_id u_**01" in md
    assert "(retry: failed last time)" in md
    for raw in RAW_VALUES:
        assert raw not in md, raw
    refused = run_cli("plan", "--format", "markdown", "--show-values")
    assert refused.code == 1 and "--i-know-this-posts-pii" in refused.err
    assert refused.out == "" and "jane@old-domain.example" not in refused.err
    shown = run_cli("plan", "--format", "markdown", "--show-values", "--i-know-this-posts-pii").out
    assert "Identifier values are masked." not in shown
    assert "jane@old-domain.example" in shown
    # the other formats print to a terminal or a file the user chose: no refusal
    assert run_cli("plan", "--show-values").code == 0


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
    [md] = render_markdown(plan, show_values=True)
    assert_well_formed(md)
    assert "a'''b@x.example" in md

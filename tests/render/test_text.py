"""The terminal plan: legend, one line an action grouped by target, reasons, cuts, color."""

from __future__ import annotations

import re

import pytest

from reconciler.render.text import HEAD_PER_TARGET, LONG_PLAN
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def csv_rows(n: int, start: int = 0) -> str:
    return "user_id,type,value\n" + "".join(
        f"u_{i:05d},email,bulk{i}@old-domain.example\n" for i in range(start, start + n)
    )


def bulk_manifest(proj: Proj, target: str, n: int, start: int = 0) -> None:
    proj.write(
        f"specs/{target}-bulk.yaml",
        "apiVersion: reconciler/v1\nkind: Removal\nmetadata:\n"
        f"  name: {target}-bulk\n  owner: o\n  reason: r\n"
        f"spec:\n  target: {target}\n  absent_csv: [{target}-bulk.csv]\n",
    )
    proj.write(f"specs/{target}-bulk.csv", csv_rows(n, start))


def two_segment_targets(proj: Proj) -> None:
    text = (proj.root / "reconciler.yaml").read_text()
    proj.write(
        "reconciler.yaml",
        text + "  seg2:\n    vendor: segment\n    space_id: spa_test2\n    token_env: SEG2\n",
    )


def test_text_plan_reads_like_terraform(proj: Proj) -> None:
    proj.add_all_vendors()
    out = run_cli("plan").out
    assert out.startswith(
        "Reconciler will send the following removals. Values are masked "
        "(--show-values shows them).\n\nSymbols:\n  - remove\n"
        "  ! delete the whole user profile (irreversible)\n"
        "  ? send again: outcome unknown\n  ~ retry: failed last time\n"
    )
    sections = re.findall(r"^# (\S+) \((\w+)\)$", out, flags=re.M)
    assert sections == [
        ("seg", "segment"),
        ("braze", "braze"),
        ("mem", "twilio_memory"),
        ("ins", "insider"),
    ]
    lines = out.splitlines()
    i = lines.index("  - email j***@old-domain.example on user_id u_**01")
    # the reason names every manifest and file:line the item comes from
    assert lines[i + 1] == "      # (because seg-emails, specs/seg.yaml:10)"
    assert "  - email a***@old-domain.example on user_id u_**01" in lines
    assert "      # (because seg-emails, specs/seg.csv:2)" in lines
    assert "  ! user profile external_id lo*********01 (irreversible)" in lines
    assert "  - every phone value on profile_id mem_profile_01**********************o5" in lines
    assert "  - identifier phone_number +6598****32" in lines
    assert "  5 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held" in lines
    assert lines[-1] == "Plan: 13 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held."


def test_segment_caveats_once_per_segment_target(proj: Proj) -> None:
    two_segment_targets(proj)
    proj.add_all_vendors()
    bulk_manifest(proj, "seg2", 2)
    out = run_cli("plan").out
    assert out.count("  Segment caveats:") == 2
    assert out.count("are not touched: clean them separately") == 2
    assert out.count("replaying events from the Event Archive") == 2
    assert out.count("__operation = REMOVED") == 2
    for name in ("braze", "mem", "ins"):
        section = out[out.index(f"# {name} (") :]
        section = section[: section.index("\n\n")]
        assert "Segment caveats" not in section


def test_reasons_for_unknown_failed_drifted_and_rejected(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    seg = proj.items("seg")
    fps = [proj.fp(i) for i in seg]
    write_run(
        proj.ledger_dir,
        [
            (fps[0], "seg", "unknown"),
            (fps[1], "seg", "failed"),
            (fps[2], "seg", "done"),
            (fps[3], "seg", "rejected"),
            (fps[4], "seg", "done"),
        ],
    )
    write_run(proj.ledger_dir, [(fps[2], "seg", "present")])
    lines = run_cli("plan").out.splitlines()
    i = lines.index("  ? email j***@old-domain.example on user_id u_**01")
    assert lines[i + 2] == (
        "      # (sent before, no answer recorded: sent again (deletions are idempotent))"
    )
    i = lines.index("  ~ phone +1555*****00 on user_id u_**01")
    assert lines[i + 2] == "      # (failed last time: retried)"
    i = lines.index("  - anonymous_id 9f*****************ce on user_id u_**02")
    assert re.fullmatch(
        r"      # \(reintroduced after removal \(seen at 20\d\d-\d\d-\d\dT[\d:.]+Z\)\)",
        lines[i + 2],
    ), lines[i + 2]
    assert any(
        line.startswith("Note: Objects have changed outside of reconciler") for line in lines
    )
    assert "  1 to remove, 1 already removed, 1 unknown, 1 to retry, 0 held, 1 rejected" in lines
    i = lines.index("  Rejected by the vendor: not retried until the manifest entry changes:")
    assert lines[i + 1] == "  x email a***@old-domain.example on user_id u_**01"
    # a done item is not listed as an action
    assert not any("g***@old-domain.example" in line for line in lines)


def test_orphaned_items_are_information(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    gone = ["0a" * 32, "0b" * 32]
    write_run(proj.ledger_dir, [(gone[0], "seg", "done"), (gone[1], "seg", "failed")])
    result = run_cli("plan", "--detailed-exitcode")
    assert result.code == 2  # from the declared items, not the orphans
    assert (
        "  2 item(s) in the ledger are no longer declared (orphaned): shown for information; "
        "removing a manifest never un-deletes anything"
    ) in result.out.splitlines()
    # a failed orphan is not retried
    assert result.out.splitlines()[-1] == (
        "Plan: 13 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held."
    )


def test_long_plans_are_compact_and_cut_per_target_unless_full(proj: Proj) -> None:
    two_segment_targets(proj)
    bulk_manifest(proj, "seg", 150)
    bulk_manifest(proj, "seg2", 60, start=1000)
    out = run_cli("plan").out
    lines = out.splitlines()
    actions = [line for line in lines if line.startswith("  - email")]
    assert len(actions) == HEAD_PER_TARGET + 60
    # compact: one line per action, its manifest and line on it
    assert actions[0] == (
        "  - email b***@old-domain.example on user_id u_***00  # seg-bulk, specs/seg-bulk.csv:2"
    )
    assert not any(line.startswith("      # (because") for line in lines)
    assert "  150 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held" in lines
    assert "  60 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held" in lines
    assert f"  ... and {150 - HEAD_PER_TARGET} more actions (use --full to list every action)" in (
        lines
    )
    assert lines[-1] == "Plan: 210 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held."

    full = run_cli("plan", "--full").out.splitlines()
    assert len([line for line in full if line.startswith("  - email")]) == 210
    assert not any("more actions" in line for line in full)


def test_exactly_the_long_plan_threshold_is_listed_whole(proj: Proj) -> None:
    bulk_manifest(proj, "seg", LONG_PLAN)
    lines = run_cli("plan").out.splitlines()
    assert len([line for line in lines if line.startswith("  - email")]) == LONG_PLAN
    assert not any("more actions" in line for line in lines)
    assert any(line.startswith("      # (because") for line in lines)  # the full form
    bulk_manifest(proj, "seg", LONG_PLAN + 1)
    lines = run_cli("plan").out.splitlines()
    assert len([line for line in lines if line.startswith("  - email")]) == HEAD_PER_TARGET
    assert not any(line.startswith("      # (because") for line in lines)  # compact


def test_compact_and_summary_on_request(proj: Proj) -> None:
    proj.add_all_vendors()
    full = run_cli("plan").out.splitlines()
    compact = run_cli("plan", "--compact").out.splitlines()
    assert (
        "  - email j***@old-domain.example on user_id u_**01  # seg-emails, specs/seg.yaml:10"
        in (compact)
    )
    assert not any(line.startswith("      # (because") for line in compact)
    assert (
        len([line for line in compact if line.startswith(("  - ", "  ! ")) and "  # " in line])
        == 13
    )
    assert compact[-1] == full[-1]
    summary = run_cli("plan", "--summary")
    lines = summary.out.splitlines()
    assert "Symbols:" not in summary.out
    assert not any(line.startswith(("  - ", "  ! ", "  ? ", "  ~ ")) for line in lines)
    sections = [line for line in lines if line.startswith("# ")]
    assert sections == [
        "# seg (segment)",
        "# braze (braze)",
        "# mem (twilio_memory)",
        "# ins (insider)",
    ]
    assert lines[-1] == "Plan: 13 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held."
    counts = [line for line in lines if re.fullmatch(r"  \d+ to remove, .*", line)]
    assert len(counts) == 4


def test_the_legend_explains_rejected_and_held(proj: Proj) -> None:
    proj.add_all_vendors()
    lines = run_cli("plan").out.splitlines()
    assert "  x rejected by the vendor: not sent again until the manifest entry changes" in lines
    assert "  # held for a person: not sent" in lines


def test_no_changes_has_no_legend(proj: Proj) -> None:
    bulk_manifest(proj, "seg", 2)
    proj.create_ledger()
    write_run(proj.ledger_dir, [(proj.fp(i), "seg", "done") for i in proj.items()])
    out = run_cli("plan").out
    assert "Symbols:" not in out
    assert "  0 to remove, 2 already removed, 0 unknown, 0 to retry, 0 held" in out
    assert out.rstrip("\n").splitlines()[-1] == (
        "No changes. Every declared absence is already recorded in the ledger."
    )


def test_color(proj: Proj) -> None:
    proj.add_all_vendors()
    never = run_cli("plan", "--color", "never")
    assert not ANSI.search(never.out + never.err)
    always = run_cli("plan", "--color", "always")
    assert ANSI.search(always.out)
    assert ANSI.search(always.err)  # the warning is yellow
    assert ANSI.sub("", always.out) == never.out
    auto = run_cli("plan")  # not a terminal
    assert not ANSI.search(auto.out)


def test_apply_takes_the_plans_display_options(proj: Proj, monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply shows the plan it asks about: --full lists every action of a long plan."""
    monkeypatch.setenv("SEGMENT_TOKEN", "x")
    monkeypatch.setenv("SEG2", "x")
    two_segment_targets(proj)
    bulk_manifest(proj, "seg", 150)
    bulk_manifest(proj, "seg2", 60, start=1000)
    cut = run_cli("apply")  # not a terminal: shows the plan, then refuses to ask
    assert cut.code == 1 and "standard input is not a terminal" in cut.err
    assert "(use --full to list every action)" in cut.out
    full = run_cli("apply", "--full", "--show-values")
    assert full.code == 1
    assert len([line for line in full.out.splitlines() if line.startswith("  - email")]) == 210
    assert "more actions" not in full.out and "Values are masked" not in full.out

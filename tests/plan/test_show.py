"""`reconcile show PLANFILE`: the plan as it was made, in every format, never re-planned."""

from __future__ import annotations

import json

from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.kit.specs import segment_manifest


def test_show_renders_what_plan_printed_in_every_format(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    item = proj.items("seg")[0]
    write_run(proj.ledger_dir, [(proj.fp(item), "seg", "done")], "r1")
    for fmt in ("text", "json", "markdown"):
        made = run_cli("plan", "--format", fmt, "--out", f"{fmt}.plan")
        assert made.code == 0, made.output
        shown = run_cli("show", f"{fmt}.plan", "--format", fmt)
        assert shown.code == 0, shown.output
        if fmt == "text":  # plan adds how to apply the saved plan
            assert made.out.startswith(shown.out.rstrip("\n"))
        else:
            assert shown.out == made.out


def test_show_gives_the_states_then_not_now(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    assert run_cli("plan", "--out", "then.plan").code == 0
    item = proj.items("seg")[0]
    write_run(proj.ledger_dir, [(proj.fp(item), "seg", "done")], "r1")  # the ledger moves
    then = json.loads(run_cli("show", "then.plan", "--format", "json").out)
    now = json.loads(run_cli("plan", "--format", "json").out)
    assert {a["state"] for a in then["actions"]} == {"pending"}
    assert "done" in {a["state"] for a in now["actions"]}


def test_show_refuses_a_plan_of_other_manifests(proj: Proj) -> None:
    proj.add_all_vendors()
    assert run_cli("plan", "--out", "p.plan").code == 0
    proj.write("specs/more.yaml", segment_manifest("more", [("u_9", "new@old-domain.example")]))
    shown = run_cli("show", "p.plan")
    assert shown.code == 1
    assert "cannot be shown: the manifests changed since the plan was made" in shown.err


def test_show_notes_moved_lines_and_shows_them_as_they_are(proj: Proj) -> None:
    proj.add_all_vendors()
    assert run_cli("plan", "--out", "p.plan").code == 0
    path = proj.root / "specs" / "seg.yaml"
    path.write_text("# a comment moves every line down\n" + path.read_text())
    shown = run_cli("show", "p.plan")
    assert shown.code == 0, shown.output
    assert "the manifests were edited since the plan was made" in shown.err


def test_show_of_an_edited_plan_is_refused(proj: Proj) -> None:
    proj.add_all_vendors()
    assert run_cli("plan", "--out", "p.plan").code == 0
    path = proj.root / "p.plan"
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes((data[-1] ^ 1,)))
    shown = run_cli("show", "p.plan", "--format", "json")
    assert shown.code == 1 and "the plan file was modified" in shown.err
    assert shown.out == ""


def test_show_takes_the_text_plan_forms(proj: Proj) -> None:
    proj.add_all_vendors()
    assert run_cli("plan", "--out", "p.plan").code == 0
    for form in ("--compact", "--summary"):
        planned = run_cli("plan", form)
        shown = run_cli("show", "p.plan", form)
        assert shown.code == 0, shown.output
        assert shown.out == planned.out
    summary = run_cli("show", "p.plan", "--summary").out
    assert "Symbols:" not in summary
    assert not [line for line in summary.splitlines() if line.startswith(("  - ", "  ! "))]

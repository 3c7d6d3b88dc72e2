"""Tamper refusal everywhere (issue 12): plan refuses a ledger that does not verify, naming
the file and line (exit 1); `--ignore-ledger-errors` plans anyway and says so, loudly in
the markdown comment, which then never calls anything "already removed". Format-2
records that are sealed but malformed are named like any break."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.ledger.store import read_ledger, run_files
from reconciler.ledger.verify import verify_ledger
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.ledger.sealed import append_sealed, lines_of, write_lines


@pytest.fixture
def applied(proj: Proj) -> Path:
    """Every segment item recorded done; the rest pending."""
    proj.add_all_vendors()
    proj.create_ledger()
    seg = [(proj.fp(i), "seg", "done") for i in proj.items("seg")]
    write_run(proj.ledger_dir, seg, "r1")
    (path,) = run_files(proj.ledger_dir)
    return path


def tamper(path: Path) -> None:
    lines = lines_of(path)
    lines[2] = lines[2].replace(b'"code":200', b'"code":201')
    write_lines(path, lines)


def test_plan_refuses_a_broken_chain_naming_file_and_line(applied: Path) -> None:
    assert run_cli("plan").code == 0
    tamper(applied)
    for fmt in ("text", "json", "markdown"):
        result = run_cli("plan", "--format", fmt)
        assert result.code == 1, result.output
        assert result.out == ""
        assert f"the ledger does not verify: {applied.name}:3: hash chain broken" in result.err
        assert "--ignore-ledger-errors" in result.err


def test_ignoring_errors_is_loud_and_never_says_already_removed(applied: Path) -> None:
    tamper(applied)
    result = run_cli("plan", "--format", "markdown", "--ignore-ledger-errors")
    assert result.code == 0, result.output
    md = result.out
    assert "> [!CAUTION]" in md
    assert "This plan was made with `--ignore-ledger-errors`: the ledger does not verify." in md
    assert f"First problem: `{applied.name}:3: hash chain broken" in md
    assert "already removed" not in md.lower()
    assert "recorded removed, NOT verified" in md
    text = run_cli("plan", "--ignore-ledger-errors")
    assert text.code == 0
    assert "Warning: --ignore-ledger-errors: the ledger does not verify" in text.err
    plan = json.loads(run_cli("plan", "--format", "json", "--ignore-ledger-errors").out)
    assert plan["warnings"][0].startswith("--ignore-ledger-errors: the ledger does not verify")


def test_a_verified_markdown_plan_still_says_already_removed(applied: Path) -> None:
    md = run_cli("plan", "--format", "markdown").out
    assert "[!CAUTION]" not in md and "already removed" in md


def test_no_changes_from_a_broken_ledger_is_not_called_recorded(proj: Proj) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    every = [(proj.fp(i), i.target, "done") for i in proj.items()]
    write_run(proj.ledger_dir, every, "r1")
    tamper(run_files(proj.ledger_dir)[0])
    md = run_cli("plan", "--format", "markdown", "--ignore-ledger-errors").out
    assert "No changes to send, but the ledger does not verify" in md
    assert "already recorded" not in md and "already removed" not in md.lower()


INTENT: dict[str, Any] = {"type": "intent", "target": "seg", "fps": ["a" * 32], "requests": 1}
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("no type", {"type": None}, "unknown record type None"),
    ("unknown type", {"type": "mystery"}, "unknown record type 'mystery'"),
    ("intent without fps", {**INTENT, "fps": []}, "intent record without a list of fingerprints"),
    (
        "intent with a full fingerprint",
        {**INTENT, "fps": ["a" * 64]},
        "intent record with a fingerprint that is not 32 characters",
    ),
    ("intent without target", {**INTENT, "target": 5}, "intent record whose 'target' is not a"),
    (
        "sizes that do not add up",
        {**INTENT, "sizes": [2]},
        "intent record whose 'sizes' do not add up to its items",
    ),
    ("result without letters", {"type": "result", "of": 1, "at": 0}, "result record without its"),
    (
        "result with an unknown letter",
        {"type": "result", "of": 1, "at": 0, "s": "dz"},
        "result record with an unknown item letter 'z'",
    ),
    (
        "result code of the wrong length",
        {"type": "result", "of": 1, "at": 0, "s": "d", "code": [200, 404]},
        "result record whose 'code' has 2 values for 1 items",
    ),
    (
        "result with an unknown evidence",
        {"type": "result", "of": 1, "at": 0, "s": "d", "evidence": "guessed"},
        "result record with an unknown evidence 'guessed'",
    ),
    (
        "result for an intent the run does not hold",
        {"type": "result", "of": 99, "at": 0, "s": "d"},
        "a result for intent 99, which this run does not hold",
    ),
    (
        "result for an intent already answered",
        {"type": "result", "of": 1, "at": 0, "s": "dd"},
        "a result for intent 1, which this run does not hold",
    ),
    (
        "refresh with an unknown observation",
        {"type": "refresh", "target": "seg", "fps": ["a" * 32], "s": "q"},
        "refresh record with an unknown item letter 'q'",
    ),
    (
        "resolution with an unknown decision",
        {"type": "resolution", "target": "seg", "fp": "a" * 32, "as": "maybe", "reason": "r"}
        | {"who": "w"},
        "resolution record with an unknown decision 'maybe'",
    ),
    ("a second run record", {"type": "run", "run": "r1", "after": ["x"]}, "a run record in the"),
]


@pytest.mark.parametrize(("record", "problem"), [pytest.param(r, p, id=i) for i, r, p in MALFORMED])
def test_a_sealed_but_malformed_record_is_a_break_and_skipped(
    applied: Path, record: dict[str, Any], problem: str
) -> None:
    before = read_ledger(applied.parent.parent)
    number = append_sealed(applied, record)
    ledger = read_ledger(applied.parent.parent)
    assert ledger.breaks[0].startswith(f"{applied.name}:{number}: {problem}"), ledger.breaks
    assert {fp: s.state for fp, s in ledger.items.items()} == {
        fp: s.state for fp, s in before.items.items()
    }
    report = verify_ledger(applied.parent.parent)
    assert report.breaks[0].startswith(f"{applied.name}:{number}: {problem}")
    plan = run_cli("plan")
    assert plan.code == 1 and f"{applied.name}:{number}: {problem}" in plan.err
    assert run_cli("plan", "--ignore-ledger-errors").code == 0
    assert run_cli("ledger", "list").code == 0  # shown, with a warning
    assert run_cli("ledger", "verify").code == 1


def test_a_record_number_out_of_sequence_is_named(applied: Path) -> None:
    number = append_sealed(applied, {"type": "end", "n": 40})
    assert verify_ledger(applied.parent.parent).breaks == [
        f"{applied.name}:{number}: record number 40 where {number - 1} was expected (records "
        "were removed, duplicated or reordered)"
    ]


def test_a_result_for_more_items_than_its_intent_is_named(proj: Proj) -> None:
    proj.create_ledger()
    writer = write_run(proj.ledger_dir, [("ab" * 32, "seg", "unknown")], "r1", close=False)
    number = append_sealed(writer.path, {"type": "result", "of": 1, "at": 0, "s": "dd"})
    assert verify_ledger(proj.ledger_dir).breaks == [
        f"{writer.path.name}:{number}: a result for more items than its intent names"
    ]

"""Format-1 ledgers (written as 0.1.x did): verify does not depend on file names: a run
whose name sorts before the run it chains from (clock skew) verifies;
a run pointing into its own file or into a cycle of files
does not. check_chain refuses a ledger that does not verify."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.ledger.chain import legacy_id as line_hash
from reconciler.ledger.store import read_ledger, run_files
from reconciler.ledger.verify import check_chain, verify_ledger
from reconciler.states import DONE, FAILED
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj
from tests.ledger.legacy import legacy_write_run

FPS = [hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(6)]
CHAIN_BREAK = (
    "hash chain broken: this record does not follow the one before it "
    "(a line was edited, removed or reordered)"
)
UNKNOWN_START = (
    "the run's first record points at a record the ledger does not hold "
    "(a file was removed or edited)"
)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def set_prev(line: bytes, prev: str) -> bytes:
    rec = json.loads(line)
    rec["prev"] = prev
    return json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()


def runs(proj: Proj, count: int) -> list[Path]:
    """`count` runs of one item each (run, intent, result, end), each chained from the
    one before."""
    proj.create_legacy_ledger()
    for i in range(count):
        legacy_write_run(proj.ledger_dir, [(FPS[i], "seg", "done")], f"r{i}")
    files = run_files(proj.ledger_dir)
    assert len(files) == count
    return files


def test_a_run_named_before_the_run_it_chains_from_verifies(proj: Proj) -> None:
    """A laptop whose clock is behind runs after CI: its file sorts first, yet it chains
    from CI's run."""
    proj.create_legacy_ledger()
    ledger_dir = proj.ledger_dir
    legacy_write_run(ledger_dir, [(FPS[0], "seg", "done"), (FPS[1], "seg", "done")], "ci")
    legacy_write_run(ledger_dir, [(FPS[0], "seg", "failed"), (FPS[2], "seg", "failed")], "laptop")
    ci, laptop = run_files(ledger_dir)
    assert json.loads(lines_of(laptop)[0])["prev"] == line_hash(lines_of(ci)[-1])
    skewed = laptop.rename(laptop.with_name("19990101T000000000000Z-laptop.jsonl"))
    assert run_files(ledger_dir) == [skewed, ci]

    report = verify_ledger(ledger_dir)
    assert report.ok, report.breaks
    assert (report.records, report.files) == (1 + 6 + 6, 2)
    assert run_cli("ledger", "verify").code == 0
    check_chain(ledger_dir)

    ledger = read_ledger(ledger_dir)
    assert ledger.warnings == [
        f"{skewed.name}: named for 1999-01-01 but its run began at "
        f"{ledger.runs['laptop']['ts']}: renamed, or written by a clock that was wrong (the "
        "fold follows the chain, not names)"
    ]
    # items one run touched fold as in time order
    assert (ledger.state_of(FPS[1]), ledger.state_of(FPS[2])) == (DONE, FAILED)
    # chain order, not names: the laptop's later `failed` is the item's last outcome
    assert ledger.state_of(FPS[0]) == FAILED
    assert ledger.items[FPS[0]].run == "laptop"

    # the next run chains from the last-named file; the whole still verifies
    legacy_write_run(ledger_dir, [(FPS[3], "seg", "done")], "next")
    assert verify_ledger(ledger_dir).ok
    assert read_ledger(ledger_dir).state_of(FPS[3]) == DONE


def test_a_run_chained_from_a_later_named_middle_run_verifies(proj: Proj) -> None:
    first, second, third = runs(proj, 3)
    second.rename(second.with_name("00000000T000000000000Z-r1.jsonl"))
    third.rename(third.with_name("00000000T000000000001Z-r2.jsonl"))
    report = verify_ledger(proj.ledger_dir)
    assert report.ok, report.breaks
    assert report.files == 3
    assert first.exists()


def test_first_record_pointing_into_its_own_file_is_a_break(proj: Proj) -> None:
    """Swapping the first two lines: line 1 now points at line 2, which is in the file.
    Without a check it would pass as "a record the ledger holds"."""
    (path,) = runs(proj, 1)
    lines = lines_of(path)
    lines[0], lines[1] = lines[1], lines[0]
    write_lines(path, lines)
    assert verify_ledger(proj.ledger_dir).breaks == [
        f"{path.name}:1: the run's first record points at line 2 of its own file "
        "(lines were reordered)"
    ]


def test_a_rotated_file_breaks_at_its_first_line(proj: Proj) -> None:
    """The first record moved to the end: every line but the last still chains, and the
    new first line points at the last one."""
    (path,) = runs(proj, 1)
    lines = lines_of(path)
    write_lines(path, lines[1:] + lines[:1])
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [
        f"{path.name}:1: the run's first record points at line 4 of its own file "
        "(lines were reordered)"
    ]
    with pytest.raises(ReconcilerError, match=f"{path.name}:1: the run's first record"):
        check_chain(proj.ledger_dir)


def test_two_runs_chained_from_each_other_are_a_cycle(proj: Proj) -> None:
    """A's first record edited to point at B's last, B chaining from A's last: neither
    leads back to the header. A third run hanging off the cycle is not blamed."""
    a, b, c = runs(proj, 3)
    lines = lines_of(a)
    lines[0] = set_prev(lines[0], line_hash(lines_of(b)[-1]))
    write_lines(a, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [
        f"{a.name}:1: the run's first record points into {b.name}, whose run chains back "
        "to this one (a cycle: a file was edited)",
        f"{b.name}:1: the run's first record points into {a.name}, whose run chains back "
        "to this one (a cycle: a file was edited)",
    ]
    assert not any(c.name in brk for brk in report.breaks)


def test_a_cycle_through_three_files(proj: Proj) -> None:
    a, b, c = runs(proj, 3)
    lines = lines_of(a)
    lines[0] = set_prev(lines[0], line_hash(lines_of(c)[-1]))
    write_lines(a, lines)
    breaks = verify_ledger(proj.ledger_dir).breaks
    assert [brk.split(": ")[0] for brk in breaks] == [f"{a.name}:1", f"{b.name}:1", f"{c.name}:1"]
    assert all("(a cycle: a file was edited)" in brk for brk in breaks)
    # a points at c, c chains from b, b from a
    assert [brk.split("points into ")[1].split(",")[0] for brk in breaks] == [
        c.name,
        a.name,
        b.name,
    ]


def test_a_broken_start_is_reported_once_not_in_every_later_run(proj: Proj) -> None:
    a, b, c = runs(proj, 3)
    lines = lines_of(a)
    lines[0] = set_prev(lines[0], "f" * 64)
    write_lines(a, lines)
    assert verify_ledger(proj.ledger_dir).breaks == [f"{a.name}:1: {UNKNOWN_START}"]


def test_the_first_break_of_every_file_is_reported_in_file_order(proj: Proj) -> None:
    """Each file's last line is kept, so b still chains from a's."""
    a, b = runs(proj, 2)
    for path, edits in ((a, (1, 2)), (b, (2,))):
        lines = lines_of(path)
        for index in edits:
            lines[index] = lines[index].replace(b'"seg"', b'"braze"')
        write_lines(path, lines)
    report = verify_ledger(proj.ledger_dir)
    # a's second break (line 4, after the edited line 3) is not shown
    assert report.breaks == [f"{a.name}:3: {CHAIN_BREAK}", f"{b.name}:4: {CHAIN_BREAK}"]
    assert report.records == 1 + 4 + 4
    result = run_cli("ledger", "verify")
    assert result.code == 1
    assert f"ledger/{a.name}:3:" in result.err and f"ledger/{b.name}:4:" in result.err


def test_an_early_break_in_a_file_wins_over_a_later_one(proj: Proj) -> None:
    """Line 3 is not JSON and line 1 points nowhere: line 1 is reported."""
    (path,) = runs(proj, 1)
    lines = lines_of(path)
    lines[0] = set_prev(lines[0], "e" * 64)
    lines[2] = b"{not json"
    write_lines(path, lines)
    assert verify_ledger(proj.ledger_dir).breaks == [f"{path.name}:1: {UNKNOWN_START}"]


def test_an_empty_run_file_is_counted_and_harmless(proj: Proj) -> None:
    runs(proj, 1)
    empty = proj.ledger_dir / "runs" / "20991231T000000000000Z-empty.jsonl"
    empty.write_bytes(b"")
    report = verify_ledger(proj.ledger_dir)
    assert report.ok and report.files == 2
    assert read_ledger(proj.ledger_dir).state_of(FPS[0]) == DONE


def test_a_folder_named_like_a_run_file_is_not_a_run(proj: Proj) -> None:
    runs(proj, 1)
    folder = proj.ledger_dir / "runs" / "20991231T000000000000Z-folder.jsonl"
    folder.mkdir()
    # run_files lists regular files only: a folder named like one is not a run
    report = verify_ledger(proj.ledger_dir)
    assert report.ok and report.files == 1


# -- check_chain ----------------------------------------------------------------------


def test_check_chain_passes_an_intact_ledger_and_no_ledger(proj: Proj) -> None:
    check_chain(proj.ledger_dir)  # no ledger at all
    runs(proj, 2)
    check_chain(proj.ledger_dir)
    assert verify_ledger(proj.ledger_dir).ok


def test_check_chain_raises_the_first_break(proj: Proj) -> None:
    a, b = runs(proj, 2)
    for path in (a, b):
        lines = lines_of(path)
        lines[1] = lines[1].replace(b'"seg"', b'"braze"')
        write_lines(path, lines)
    assert len(verify_ledger(proj.ledger_dir).breaks) == 2
    with pytest.raises(ReconcilerError) as caught:
        check_chain(proj.ledger_dir)
    assert str(caught.value) == (
        f"the ledger does not verify: {a.name}:3: {CHAIN_BREAK}; nothing was sent. "
        "Run `reconcile ledger verify`"
    )


def test_check_chain_refuses_a_missing_header(proj: Proj) -> None:
    runs(proj, 1)
    (proj.ledger_dir / "header.jsonl").unlink()
    with pytest.raises(ReconcilerError, match="header.jsonl: missing, but run files exist"):
        check_chain(proj.ledger_dir)

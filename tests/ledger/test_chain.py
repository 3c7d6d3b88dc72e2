"""The chain of format-2 records: `verify_ledger` and `reconcile ledger verify` find edited,
deleted and reordered lines and name the record that fails; a torn last line is a
warning, never fatal; merged branches verify."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import shutil
from binascii import b2a_base64
from pathlib import Path

from reconciler.ledger.chain import HASH_LABEL, MAC_LABEL, Chain
from reconciler.ledger.store import RunWriter, read_ledger, run_files
from reconciler.ledger.verify import verify_ledger
from reconciler.states import DONE, FAILED, UNKNOWN
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.ledger.sealed import append_sealed, lines_of, record_id, write_lines

FPS = [hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(6)]
CHAIN_BREAK = (
    "hash chain broken: this record does not follow the one before it "
    "(a line was edited, removed or reordered)"
)


def three_item_ledger(proj: Proj) -> Path:
    """A ledger with one run of 3 items: run, 3 x (intent, result), end = 8 lines."""
    proj.create_ledger()
    write_run(proj.ledger_dir, [(fp, "seg", "done") for fp in FPS[:3]], "r1")
    (path,) = run_files(proj.ledger_dir)
    assert len(lines_of(path)) == 8
    return path


def test_an_intact_ledger_verifies(proj: Proj) -> None:
    path = three_item_ledger(proj)
    write_run(proj.ledger_dir, [(FPS[3], "seg", "failed")], "r2")
    report = verify_ledger(proj.ledger_dir)
    assert report.ok, report.breaks
    assert (report.records, report.files) == (1 + 8 + 4, 2)
    assert report.warnings == []
    result = run_cli("ledger", "verify")
    assert result.code == 0
    assert "The ledger verifies: 13 record(s) in 2 run file(s)." in result.out
    # without a key the chain finds accidents, not forgery: said every time
    assert "finds accidents (a bad merge, a cut copy, a careless edit), not forgery" in result.err
    assert path.exists()


def test_no_ledger_verifies_as_empty(proj: Proj) -> None:
    report = verify_ledger(proj.ledger_dir)
    assert report.ok and report.records == 0


def test_edited_line_is_found_at_that_line(proj: Proj) -> None:
    """Changing a result from done to rejected keeps valid JSON, but the line's own id
    no longer matches its bytes: the break names the edited record itself."""
    path = three_item_ledger(proj)
    lines = lines_of(path)
    assert b'"s":"d"' in lines[2]
    lines[2] = lines[2].replace(b'"s":"d"', b'"s":"x"')
    write_lines(path, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [f"{path.name}:3: {CHAIN_BREAK}"]
    result = run_cli("ledger", "verify")
    assert result.code == 1
    assert f"ledger/{path.name}:3: hash chain broken" in result.err
    assert "Error: the ledger does not verify." in result.err


def test_edit_that_breaks_the_json_is_named_at_its_line(proj: Proj) -> None:
    path = three_item_ledger(proj)
    lines = lines_of(path)
    lines[5] = lines[5][:-3]
    write_lines(path, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [f"{path.name}:6: not valid JSON (edited or corrupted)"]
    assert run_cli("ledger", "verify").code == 1


def test_deleted_line_is_found(proj: Proj) -> None:
    path = three_item_ledger(proj)
    lines = lines_of(path)
    del lines[3]  # the second intent
    write_lines(path, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks[0].startswith(f"{path.name}:4: hash chain broken")
    result = run_cli("ledger", "verify")
    assert result.code == 1 and f"{path.name}:4:" in result.err


def test_reordered_lines_are_found(proj: Proj) -> None:
    path = three_item_ledger(proj)
    lines = lines_of(path)
    lines[1], lines[3] = lines[3], lines[1]  # two intents swapped
    write_lines(path, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks[0].startswith(f"{path.name}:2: hash chain broken")
    assert run_cli("ledger", "verify").code == 1


def test_reordered_first_line_is_found(proj: Proj) -> None:
    path = three_item_ledger(proj)
    lines = lines_of(path)
    lines[0], lines[1] = lines[1], lines[0]
    write_lines(path, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks[0] == (
        f"{path.name}:1: a run file must begin with a run record, not 'intent'"
    )


def test_deleted_last_line_of_an_earlier_run_is_found(proj: Proj) -> None:
    """The next run continues from it, so its loss shows at the next run's first line."""
    first = three_item_ledger(proj)
    write_run(proj.ledger_dir, [(FPS[3], "seg", "done")], "r2")
    second = run_files(proj.ledger_dir)[1]
    write_lines(first, lines_of(first)[:-1])
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks[0].startswith(f"{second.name}:1: the run's first record points at")
    result = run_cli("ledger", "verify")
    assert result.code == 1 and f"{second.name}:1:" in result.err


def test_deleted_run_file_is_found(proj: Proj) -> None:
    first = three_item_ledger(proj)
    write_run(proj.ledger_dir, [(FPS[3], "seg", "done")], "r2")
    first.unlink()
    report = verify_ledger(proj.ledger_dir)
    assert "first record points at a record the ledger does not hold" in report.breaks[0]


def test_edited_header_is_found(proj: Proj) -> None:
    """The header carries its own id: an edit of the salt, the key id or the date shows."""
    three_item_ledger(proj)
    header = proj.ledger_dir / "header.jsonl"
    text = header.read_text()
    header.write_text(text.replace('"created":"', '"created":"1', 1))
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == ["header.jsonl:1: " + CHAIN_BREAK]


def test_unknown_record_type_breaks_verify_and_is_a_fold_warning(proj: Proj) -> None:
    path = three_item_ledger(proj)
    number = append_sealed(path, {"type": "mystery"})
    assert number == 9
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [f"{path.name}:9: unknown record type 'mystery'"]
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.warnings == [f"{path.name}:9: unknown record type 'mystery'; ignored"]
    assert run_cli("ledger", "verify").code == 1


def tear(path: Path) -> bytes:
    """Append half a record without its newline, as a power cut mid-write leaves it."""
    half = b'{"type":"result","n":9,"ts":"2026-01-01T00:00:00.000000Z","of":1,"at":0,"s":"f'
    with path.open("ab") as handle:
        handle.write(half)
    return half


def test_torn_last_line_is_a_warning_and_ignored_by_the_fold(proj: Proj) -> None:
    path = three_item_ledger(proj)
    before = read_ledger(proj.ledger_dir)
    tear(path)
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.warnings == [
        f"{path.name}:9: torn last line (the write was interrupted); ignored"
    ]
    assert ledger.items == before.items
    assert (ledger.serial, ledger.digest, ledger.heads) == (
        before.serial,
        before.digest,
        before.heads,
    )
    report = verify_ledger(proj.ledger_dir)
    assert report.ok
    assert report.warnings == ledger.warnings
    result = run_cli("ledger", "verify")
    assert result.code == 0
    assert f"Warning: {path.name}:9: torn last line" in result.err
    assert "The ledger verifies" in result.out


def test_torn_complete_json_without_newline_is_still_torn(proj: Proj) -> None:
    """A record is written only when its newline is: a whole JSON object without one
    may be the first bytes of a longer line, so it is never merged."""
    path = three_item_ledger(proj)
    lines = lines_of(path)
    rec = json.loads(lines[2])
    rec["s"] = "f"
    rec["n"] = 8
    with path.open("ab") as handle:
        handle.write(json.dumps(rec, separators=(",", ":")).encode())
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.state_of(FPS[0]) == DONE
    assert len(ledger.warnings) == 1 and "torn last line" in ledger.warnings[0]


def test_after_a_torn_line_the_next_run_chains_and_verifies(proj: Proj) -> None:
    path = three_item_ledger(proj)
    tear(path)
    write_run(proj.ledger_dir, [(FPS[4], "seg", "failed")], "r2")
    report = verify_ledger(proj.ledger_dir)
    assert report.ok, report.breaks
    assert len(report.warnings) == 1
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.state_of(FPS[4]) == FAILED
    assert ledger.state_of(FPS[0]) == DONE


def test_torn_line_does_not_stop_plan(proj: Proj) -> None:
    proj.add_all_vendors()
    path = three_item_ledger(proj)
    tear(path)
    result = run_cli("plan")
    assert result.code == 0
    assert "torn last line" in result.err
    assert "Plan: " in result.out


def test_two_branches_merged_fold_and_verify(proj: Proj, tmp_path: Path) -> None:
    """Two branches start from the same ledger, each appends a run; git merges them by
    keeping both new files. The merged ledger verifies and folds both runs, and the
    next run continues from both heads."""
    three_item_ledger(proj)
    base_files = {p.name for p in run_files(proj.ledger_dir)}
    branch_a = proj.copy_ledger(tmp_path / "branch-a")
    branch_b = proj.copy_ledger(tmp_path / "branch-b")
    write_run(branch_a, [(FPS[3], "seg", "done"), (FPS[0], "seg", "present")], "ra")
    write_run(branch_b, [(FPS[4], "braze", "failed"), (FPS[5], "braze", "unknown")], "rb")
    for branch in (branch_a, branch_b):
        assert verify_ledger(branch).ok
        for path in run_files(branch):
            if path.name not in base_files:
                shutil.copy(path, proj.ledger_dir / "runs" / path.name)
    assert len(run_files(proj.ledger_dir)) == 3
    report = verify_ledger(proj.ledger_dir)
    assert report.ok, report.breaks
    assert report.files == 3
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.warnings == [] and ledger.conflicts == 0
    assert {fp: ledger.state_of(fp) for fp in FPS} == {
        FPS[0]: "drifted",
        FPS[1]: DONE,
        FPS[2]: DONE,
        FPS[3]: DONE,
        FPS[4]: FAILED,
        FPS[5]: UNKNOWN,
    }
    assert set(ledger.runs) == {"r1", "ra", "rb"}
    assert len(ledger.heads) == 2  # one per branch
    # a run after the merge continues from both heads and the whole still verifies
    writer = write_run(proj.ledger_dir, [(FPS[4], "braze", "done")], "rc")
    first = json.loads(lines_of(writer.path)[0])
    assert first["after"] == ledger.heads
    assert verify_ledger(proj.ledger_dir).ok
    after = read_ledger(proj.ledger_dir)
    assert after.state_of(FPS[4]) == DONE
    assert len(after.heads) == 1
    assert run_cli("ledger", "verify").code == 0


def test_merged_branches_then_tampered_is_found(proj: Proj, tmp_path: Path) -> None:
    three_item_ledger(proj)
    branch = proj.copy_ledger(tmp_path / "branch")
    write_run(branch, [(FPS[3], "seg", "done")], "ra")
    new = run_files(branch)[-1]  # the branch's own run
    lines = lines_of(new)
    lines[1] = lines[1].replace(b'"seg"', b'"braze"')
    write_lines(proj.ledger_dir / "runs" / new.name, lines)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks[0].startswith(f"{new.name}:2: hash chain broken")


def test_writer_continues_from_the_newest_record(proj: Proj) -> None:
    three_item_ledger(proj)
    (first,) = run_files(proj.ledger_dir)
    writer = RunWriter(proj.ledger_dir, "r2", {"op": "refresh"})
    writer.close()
    second = run_files(proj.ledger_dir)[1]
    rec = json.loads(lines_of(second)[0])
    assert rec["after"] == [record_id(lines_of(first)[-1]).decode()]
    assert read_ledger(proj.ledger_dir).heads == [writer.head]


def test_record_ids_are_the_hmac_under_the_mac_key_and_the_labelled_hash() -> None:
    """A record's id is HMAC-SHA256 under the MAC key derived from the ledger key
    (keyed) or SHA-256 after the label (unkeyed), over the previous id, a newline and
    the line, cut to 128 bits, base64url (HmacSha256 itself: tests/test_mac.py)."""

    def encoded(digest: bytes) -> bytes:
        return b2a_base64(digest[:16], newline=False).translate(bytes.maketrans(b"+/", b"-_"))[:22]

    rng = random.Random(11)
    for key in (b"k", rng.randbytes(200)):
        keyed, unkeyed = Chain(key), Chain(None)
        mac_key = hmac.digest(key, MAC_LABEL, "sha256")
        for size in (0, 55, 64, 2000):
            prev, head = rng.randbytes(22), rng.randbytes(size)
            message = prev + b"\n" + head
            assert keyed.id_of(prev, head) == encoded(hmac.digest(mac_key, message, "sha256"))
            assert unkeyed.id_of(prev, head) == encoded(
                hashlib.sha256(HASH_LABEL + message).digest()
            )
        # the states are copied, never used up: the same id twice
        assert keyed.id_of(b"a", b"b") == keyed.id_of(b"a", b"b")

"""Folding the ledger's records into item states: every transition of CONTRACT section 5."""

from __future__ import annotations

import hashlib
import json

import pytest

from reconciler.ledger.chain import Chain, split
from reconciler.ledger.store import RunWriter, read_ledger
from reconciler.states import ACCEPTED, DONE, DRIFTED, FAILED, REJECTED, UNKNOWN
from tests.kit.ledger import Proj, write_run
from tests.ledger.legacy import legacy_write_run

FP = hashlib.sha256(b"item-1").hexdigest()
OTHER = hashlib.sha256(b"item-2").hexdigest()


# Each case: the runs written one after another (each a list of outcomes for FP), and
# the state the fold must give (None: the ledger has never heard of the item).
TRANSITIONS = [
    ("nothing recorded: pending", [], None),
    ("intent without result: unknown", [["unknown"]], UNKNOWN),
    ("result accepted", [["accepted"]], ACCEPTED),
    ("result done", [["done"]], DONE),
    ("result failed", [["failed"]], FAILED),
    ("result rejected", [["rejected"]], REJECTED),
    ("accepted, refresh absent: done", [["accepted"], ["absent"]], DONE),
    ("accepted, refresh present: drifted", [["accepted"], ["present"]], DRIFTED),
    ("done, refresh present: drifted", [["done"], ["present"]], DRIFTED),
    ("done, refresh absent: still done", [["done"], ["absent"]], DONE),
    ("drifted, refresh absent: done", [["done"], ["present"], ["absent"]], DONE),
    ("drifted, sent again: done", [["done"], ["present"], ["done"]], DONE),
    ("failed then done", [["failed"], ["done"]], DONE),
    ("failed twice", [["failed"], ["failed"]], FAILED),
    ("killed run then done", [["unknown"], ["done"]], DONE),
    ("done then resent without answer: unknown", [["done"], ["unknown"]], UNKNOWN),
    ("rejected then done after the entry changed", [["rejected"], ["done"]], DONE),
    ("accepted then failed", [["accepted"], ["failed"]], FAILED),
    ("refresh absent of a never-sent item changes nothing", [["absent"]], None),
    ("two outcomes in one run: the last wins", [["failed", "done"]], DONE),
]


@pytest.mark.parametrize(
    ("runs", "expected"),
    [pytest.param(runs, exp, id=name) for name, runs, exp in TRANSITIONS],
)
def test_fold_state_transitions(proj: Proj, runs: list[list[str]], expected: str | None) -> None:
    proj.create_ledger()
    for i, outcomes in enumerate(runs):
        write_run(proj.ledger_dir, [(FP, "seg", o) for o in outcomes], run_id=f"run{i}")
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.state_of(FP) == expected
    assert ledger.warnings == []
    if expected is not None:
        # the state is set by the newest record that changed it
        assert ledger.items[FP].target == "seg"


def test_fold_keeps_the_vendor_answer_and_run(proj: Proj) -> None:
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FP, "seg", "failed"), (OTHER, "braze", "rejected")], "r1")
    ledger = read_ledger(proj.ledger_dir)
    failed, rejected = ledger.items[FP], ledger.items[OTHER]
    assert (failed.state, failed.code, failed.message, failed.run) == (
        FAILED,
        503,
        "Service Unavailable",
        "r1",
    )
    assert (rejected.state, rejected.target, rejected.code) == (REJECTED, "braze", 400)
    assert ledger.runs["r1"]["commit"] == "c0ffee1"
    assert "ended" in ledger.runs["r1"]


def test_fold_items_are_independent(proj: Proj) -> None:
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FP, "seg", "done"), (OTHER, "seg", "unknown")], "r1")
    write_run(proj.ledger_dir, [(OTHER, "seg", "failed")], "r2")
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.state_of(FP) == DONE
    assert ledger.state_of(OTHER) == FAILED


def test_a_run_without_end_record_still_folds(proj: Proj) -> None:
    """A killed apply leaves no `end`: its intents are unknown, its results count."""
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FP, "seg", "done"), (OTHER, "seg", "unknown")], "r1", close=False)
    ledger = read_ledger(proj.ledger_dir)
    assert (ledger.state_of(FP), ledger.state_of(OTHER)) == (DONE, UNKNOWN)
    assert "ended" not in ledger.runs["r1"]


def test_missing_ledger_is_empty(proj: Proj) -> None:
    ledger = read_ledger(proj.ledger_dir)
    assert not ledger.exists
    assert ledger.items == {} and ledger.serial == 0 and ledger.lineage is None


def test_serial_and_digest_move_with_every_run(proj: Proj) -> None:
    header = proj.create_ledger()
    empty = read_ledger(proj.ledger_dir)
    assert empty.exists and empty.lineage == header.lineage
    assert empty.serial == 1  # the header
    write_run(proj.ledger_dir, [(FP, "seg", "done")], "r1")  # run, intent, result, end
    one = read_ledger(proj.ledger_dir)
    assert one.serial == 5
    assert one.digest != empty.digest
    write_run(proj.ledger_dir, [(OTHER, "seg", "unknown")], "r2")  # run, intent, end
    two = read_ledger(proj.ledger_dir)
    assert two.serial == 8
    assert two.digest not in (one.digest, empty.digest)
    # reading again gives the same snapshot
    again = read_ledger(proj.ledger_dir)
    assert (again.serial, again.digest) == (two.serial, two.digest)


def test_writer_refuses_a_non_result_state(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    with pytest.raises(ValueError, match="not a result state"):
        writer.result(FP, "seg", "pending", None, None)
    writer.close()


def test_every_record_is_one_line_of_json_ending_with_its_chained_id(proj: Proj) -> None:
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FP, "seg", "done")], "r1")
    (run_file,) = (proj.ledger_dir / "runs").iterdir()
    data = run_file.read_bytes()
    assert data.endswith(b"\n")
    lines = data.split(b"\n")[:-1]
    assert [json.loads(line)["type"] for line in lines] == ["run", "intent", "result", "end"]
    header = (proj.ledger_dir / "header.jsonl").read_bytes().rstrip(b"\n")
    chain = Chain(None)
    prev = json.loads(lines[0])["after"][0].encode()
    assert prev == split(header)[1]  # the run continues from the header
    for number, line in enumerate(lines):
        body, rid = split(line)
        assert json.loads(line)["n"] == number
        assert chain.id_of(prev, body) == rid
        prev = rid


@pytest.mark.parametrize(
    ("line", "readable"),
    [
        (b'{"type":"intent","fp":"%s","target":"seg","ts":"t","run":"x"} trailing', False),
        (b'{"type":"intent","fp":"%s","target":"seg","ts":"t","run":"x"}{}', False),
        (b'{"type":"intent","fp":"%s","target":"seg","ts":"t",', False),
        (b"[" * 100_000 + b"]" * 100_000, False),
        (b"\xff\xfe garbage", False),
        (b'  {"type":"intent","fp":"%s","target":"seg","ts":"t","run":"x"}  ', True),
        (b'{"type": "intent", "fp": "%s", "target": "seg", "ts": "t", "run": "x"}', True),
    ],
)
def test_fold_reads_records_exactly_as_json_does(proj: Proj, line: bytes, readable: bool) -> None:
    """Hand-edited lines are read as json.loads reads them: whole, or not at all."""
    proj.create_legacy_ledger()  # format 1: one JSON object a line, nothing after it
    legacy_write_run(proj.ledger_dir, [(OTHER, "seg", "done")], "r1")
    (path,) = (proj.ledger_dir / "runs").iterdir()
    with path.open("ab") as handle:
        handle.write((line.replace(b"%s", FP.encode()) if b"%s" in line else line) + b"\n")
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.state_of(OTHER) == DONE
    if readable:
        assert ledger.state_of(FP) == UNKNOWN
        assert ledger.warnings == []
    else:
        assert FP not in ledger.items
        assert ledger.warnings == [f"{path.name}:5: not valid JSON (edited or corrupted); ignored"]

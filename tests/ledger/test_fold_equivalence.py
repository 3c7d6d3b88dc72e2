"""The fold gives exactly what the reference fold (the one before the compact item table,
tests/ledger/reference_fold.py) gave, over random ledgers: every item's state and the
record that set it, conflicts, refresh reads, breaks and warnings; and a tampered record
is still refused."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconciler.ledger.store import read_ledger
from reconciler.ledger.verify import verify_ledger
from tests.ledger import reference_fold
from tests.ledger.randomledger import random_ledger, summary_of, table_of
from tests.ledger.sealed import lines_of, write_lines

CASES = [
    pytest.param(seed, keyed, legacy, id=f"seed{seed}-{'keyed' if keyed else 'salted'}-v1x{legacy}")
    for seed, keyed, legacy in [
        (1, True, 0),
        (2, True, 0),
        (3, False, 0),
        (4, True, 3),
        (5, False, 2),
        (6, True, 0),
        (7, True, 0),
        (8, False, 0),
    ]
]


def assert_same(ledger_dir: Path, key: bytes | None) -> None:
    for k in (key, None):
        for table in (True, False):
            new = read_ledger(ledger_dir, k, table=table)
            old = reference_fold.read_ledger(ledger_dir, k, table=table)
            assert summary_of(new) == summary_of(old)
            got, expected = table_of(new), table_of(old)
            assert got.keys() == expected.keys()
            assert got == expected
            for fp in list(expected)[:50]:
                assert new.items.get(fp) is not None
                assert new.state_of(fp + "0" * 32) == old.state_of(fp + "0" * 32)
            assert new.items.get("f" * 32) == old.items.get("f" * 32)


@pytest.mark.parametrize(("seed", "keyed", "legacy"), CASES)
def test_the_fold_matches_the_reference(
    seed: int, keyed: bool, legacy: int, tmp_path: Path
) -> None:
    ledger_dir = tmp_path / "ledger"
    key = random_ledger(ledger_dir, seed, items=2000, runs=14, keyed=keyed, legacy_runs=legacy)
    old = reference_fold.read_ledger(ledger_dir, key)
    assert len(old.items) > 500  # the case is not trivial
    assert_same(ledger_dir, key)


@pytest.mark.parametrize("seed", range(6))
def test_a_damaged_ledger_folds_as_the_reference(seed: int, tmp_path: Path) -> None:
    """Lines changed, removed, duplicated or cut short: the same breaks, warnings and
    states as the reference; and verify refuses the ledger."""
    ledger_dir = tmp_path / "ledger"
    key = random_ledger(ledger_dir, 100 + seed, items=600, runs=6, legacy_runs=seed % 2)
    rng = random.Random(seed)
    files = sorted((ledger_dir / "runs").iterdir())
    path = rng.choice(files)
    lines = lines_of(path)
    at = rng.randrange(len(lines))
    how = seed % 4
    if how == 0:  # one byte changed
        line = bytearray(lines[at])
        pos = rng.randrange(len(line))
        line[pos] = ord("7") if line[pos] != ord("7") else ord("8")
        lines[at] = bytes(line)
    elif how == 1:
        del lines[at]
    elif how == 2:
        lines.insert(at, lines[at])
    else:
        lines[at] = lines[at][: len(lines[at]) // 2]
    write_lines(path, lines)
    assert_same(ledger_dir, key)
    assert not verify_ledger(ledger_dir, key).ok


def test_a_tampered_state_is_refused(tmp_path: Path) -> None:
    """A result's letter changed from failed to done, by someone without the key."""
    ledger_dir = tmp_path / "ledger"
    key = random_ledger(ledger_dir, 42, items=400, runs=4)
    for path in sorted((ledger_dir / "runs").iterdir()):
        lines = lines_of(path)
        for i, line in enumerate(lines):
            if line.startswith(b'{"type":"result"') and b'"s":"f' in line:
                lines[i] = line.replace(b'"s":"f', b'"s":"d', 1)
                write_lines(path, lines)
                ledger = read_ledger(ledger_dir, key)
                assert ledger.breaks and "MAC" in ledger.breaks[0] or "id" in ledger.breaks[0]
                assert not verify_ledger(ledger_dir, key).ok
                assert_same(ledger_dir, key)
                return
    pytest.fail("no failed result to tamper with")


MUTATIONS = [None, 0, -1, 1, 2, "", "x", "d", "adfx", "pau", [], [1], ["a" * 32], {}, {"a": 1},
             "a" * 32, "A" * 32, 1.5, True, [None], ["removed"], "removed", "done",
             "present"]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_validation_matches_the_reference(seed: int, tmp_path: Path) -> None:
    """Records of every kind with fields removed or given other values: the field table's
    checks give the reference's verdict, word for word (format 1 and 2)."""
    import json

    from reconciler.ledger.records import problem_v2, record_problem
    from tests.ledger import reference_records

    ledger_dir = tmp_path / "ledger"
    random_ledger(ledger_dir, 200 + seed, items=300, runs=8, legacy_runs=2)
    rng = random.Random(seed)
    checked = 0
    for path in sorted((ledger_dir / "runs").iterdir()):
        for line in lines_of(path):
            rec = json.loads(line)
            v1 = "prev" in rec
            for _ in range(6):
                bad = dict(rec)
                name = rng.choice([*bad, "sizes", "targets", "vendor_code", "note"])
                if rng.random() < 0.3:
                    bad.pop(name, None)
                else:
                    bad[name] = rng.choice(MUTATIONS)
                if v1:
                    assert record_problem(bad) == reference_records.record_problem(bad), bad
                else:
                    ours, theirs = problem_v2(bad), reference_records.problem_v2(bad)
                    if name == "vendor_code" and theirs is None:
                        continue  # the reference's fast path never looked at vendor_code
                    assert ours == theirs, bad
                checked += 1
    assert checked > 1000


def test_an_apply_ledger_of_plain_lines_folds_as_the_reference(tmp_path: Path) -> None:
    """The lines an apply writes (intents of 64 items, results grouped, request ids):
    read by lines.py's fast reader, the same fold as the reference's."""
    import hashlib
    import uuid
    from unittest import mock

    from reconciler.desired import Fingerprinter
    from reconciler.ledger.store import RunWriter, create_ledger, result_fields

    key = b"plain-lines-key-0123456789abcdef"
    ledger_dir = tmp_path / "ledger"
    create_ledger(ledger_dir, Fingerprinter.keyed(key))
    fps = [hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(3000)]
    with mock.patch("os.fsync"):
        writer = RunWriter(ledger_dir, "plain0000001", {"operation": "apply"}, key=key)
        for at in range(0, len(fps), 64):
            window = fps[at : at + 64]
            writer.intents_ahead("seg", [([fp], "0" * 64) for fp in window])
            for fp in window:
                writer.claim([fp])
            state = "done" if at % 128 else "failed"
            writer.results(
                [
                    result_fields(fp, "seg", state, 200, None, str(uuid.uuid4()), None, "removed")
                    for fp in window[:50]
                ]
            )
        writer.close(removed=len(fps))
    assert_same(ledger_dir, key)
    ledger = read_ledger(ledger_dir, key)
    assert ledger.ok and len(ledger.items) == len(fps)
    assert ledger.state_of(fps[0]) == "failed" and ledger.state_of(fps[64]) == "done"
    assert ledger.state_of(fps[60]) == "unknown"  # announced, never answered

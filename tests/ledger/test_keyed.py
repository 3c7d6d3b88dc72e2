"""Keyed records (issue 17): with a ledger key every record carries a MAC over its bytes
and the previous MAC, so none can be forged, altered or appended without the key, and
`ledger verify` names the record that fails. Verify needs the key."""

from __future__ import annotations

import json

import pytest

from reconciler.ledger.chain import MAC_LABEL, Chain
from reconciler.ledger.store import read_ledger, run_files
from reconciler.ledger.verify import NO_KEY, verify_ledger
from tests.kit.cli import run_cli
from tests.kit.ledger import KEY_ENV, TEST_KEY, Proj, write_run
from tests.ledger.sealed import append_sealed, lines_of, reseal, seal, write_lines

KEY = TEST_KEY.encode()
MAC_BREAK = "the record's MAC does not match: it was altered, or written without the ledger key"


@pytest.fixture
def keyed(keyed_proj: Proj) -> Proj:
    keyed_proj.add_all_vendors()
    keyed_proj.create_ledger()
    seg = keyed_proj.items("seg")
    write_run(keyed_proj.ledger_dir, [(keyed_proj.fp(seg[0]), "seg", "failed")], "r1")
    return keyed_proj


def test_a_keyed_ledger_verifies_with_its_key(keyed: Proj) -> None:
    report = verify_ledger(keyed.ledger_dir, KEY)
    assert report.ok and report.keyed
    result = run_cli("ledger", "verify")
    assert result.code == 0
    assert "every record's MAC checked" in result.out
    assert "not forgery" not in result.err  # the unkeyed warning is for unkeyed ledgers


def test_the_mac_key_is_derived_and_differs_from_the_ledger_key(keyed: Proj) -> None:
    """Records are not HMAC'd with the fingerprint key itself, and another key fails."""
    (path,) = run_files(keyed.ledger_dir)
    line = lines_of(path)[1]
    body = line[:-30]
    prev = json.loads(lines_of(path)[0])["m"].encode()
    assert Chain(KEY).id_of(prev, body) == line[-24:-2]
    assert Chain(b"another key").id_of(prev, body) != line[-24:-2]
    assert MAC_LABEL == b"reconciler/ledger/record-mac/v2"


def test_verify_needs_the_key(keyed: Proj, monkeypatch: pytest.MonkeyPatch) -> None:
    report = verify_ledger(keyed.ledger_dir, None)
    assert report.breaks == [NO_KEY]
    monkeypatch.delenv(KEY_ENV)
    result = run_cli("ledger", "verify")
    assert result.code == 1 and f"ledger.key_env names {KEY_ENV}, which is not set" in result.err


def test_a_forged_result_appended_without_the_key_is_named(keyed: Proj) -> None:
    """Someone with write access turns the failed item into done: a result record
    appended with a correct-looking chain, but no key."""
    (path,) = run_files(keyed.ledger_dir)
    forged = {"type": "result", "of": 1, "at": 0, "s": "d", "code": 200}
    for attempt_key in (None, b"a guessed key"):
        original = path.read_bytes()
        number = append_sealed(path, forged, key=attempt_key)
        report = verify_ledger(keyed.ledger_dir, KEY)
        assert report.breaks == [f"{path.name}:{number}: {MAC_BREAK}"]
        result = run_cli("ledger", "verify")
        assert result.code == 1
        assert f"ledger/{path.name}:{number}: the record's MAC does not match" in result.err
        plan = run_cli("plan")  # the forged done never reaches a plan
        assert plan.code == 1 and f"{path.name}:{number}: the record's MAC" in plan.err
        path.write_bytes(original)
    assert verify_ledger(keyed.ledger_dir, KEY).ok


def test_an_edited_record_resealed_without_the_key_is_named(keyed: Proj) -> None:
    (path,) = run_files(keyed.ledger_dir)
    lines = lines_of(path)
    lines[2] = lines[2].replace(b'"s":"f"', b'"s":"d"')
    write_lines(path, reseal(lines, None, start=2))  # the whole chain recomputed, unkeyed
    report = verify_ledger(keyed.ledger_dir, KEY)
    assert report.breaks == [f"{path.name}:3: {MAC_BREAK}"]


def test_a_forged_run_file_is_named(keyed: Proj) -> None:
    """A whole new run claiming the item done, continuing from the real head."""
    ledger = read_ledger(keyed.ledger_dir, KEY)
    (path,) = run_files(keyed.ledger_dir)
    fp = json.loads(lines_of(path)[1])["fps"][0]
    forged = path.with_name("20261231T000000000000Z-forged.jsonl")
    chain = Chain(b"not the key")
    run = {"type": "run", "n": 0, "ts": "2026-12-31T00:00:00.000000Z", "run": "forged"}
    run["after"] = ledger.heads
    first = seal(chain, ",".join(ledger.heads).encode(), run)
    intent = {"type": "intent", "n": 1, "ts": run["ts"], "target": "seg", "fps": [fp]}
    second = seal(chain, first[-24:-2], {**intent, "requests": 1, "digest": "0" * 32})
    result = {"type": "result", "n": 2, "ts": run["ts"], "of": 1, "at": 0, "s": "d"}
    third = seal(chain, second[-24:-2], result)
    write_lines(forged, [first, second, third])
    report = verify_ledger(keyed.ledger_dir, KEY)
    assert report.breaks == [f"{forged.name}:1: {MAC_BREAK}"]
    assert run_cli("plan").code == 1


def test_the_anchor_of_a_run_is_keyed(keyed: Proj) -> None:
    """Pointing a run at other records changes its first record: its MAC fails."""
    write_run(keyed.ledger_dir, [], "r2")
    second = run_files(keyed.ledger_dir)[1]
    lines = lines_of(second)
    rec = json.loads(lines[0])
    header = (keyed.ledger_dir / "header.jsonl").read_bytes().rstrip(b"\n")
    rec["after"] = [json.loads(header)["m"]]  # as if r1 never happened
    rec.pop("m")
    lines[0] = seal(Chain(None), ",".join(rec["after"]).encode(), rec)
    write_lines(second, lines)
    report = verify_ledger(keyed.ledger_dir, KEY)
    assert f"{second.name}:1: {MAC_BREAK}" in report.breaks

"""Ledgers written by 0.1.x (format 1, tests/ledger/fixtures/) stay readable and
verifiable, fold as they did, and take format-2 runs on top; once keyed records exist,
an unkeyed record after them is an error."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from reconciler.ledger.records import FP_CHARS
from reconciler.ledger.store import RunWriter, read_ledger, run_files
from reconciler.ledger.verify import verify_ledger
from tests.kit.cli import run_cli
from tests.ledger.legacy import legacy_write_run

FIXTURES = Path(__file__).parent / "fixtures"


def copy(name: str, tmp_path: Path) -> tuple[Path, dict]:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest / "ledger", json.loads((FIXTURES / name / "expected.json").read_text())


@pytest.mark.parametrize("name", ["v1-keyed", "v1-salted"])
def test_an_old_ledger_folds_as_it_did_and_verifies(name: str, tmp_path: Path) -> None:
    ledger_dir, expected = copy(name, tmp_path)
    key = expected["key"].encode() if expected["key"] else None
    ledger = read_ledger(ledger_dir, key)
    assert ledger.ok, ledger.breaks
    assert ledger.warnings == []
    got = {
        fp: {
            "state": s.state,
            "target": s.target,
            "run": s.run,
            "code": s.code,
            "message": s.message,
        }
        for fp, s in ledger.items.items()
    }
    assert got == {fp[:FP_CHARS]: v for fp, v in expected["states"].items()}
    assert sorted(ledger.runs) == expected["runs"]
    assert ledger.target_accounts == expected["target_accounts"]
    assert ledger.lineage == expected["lineage"]
    report = verify_ledger(ledger_dir, key)
    assert report.ok, report.breaks
    assert (report.records, report.files) == (expected["records"], expected["files"])
    # the two merged branches are two heads; the killed run is the newest on its line
    assert len(ledger.heads) == 2


@pytest.mark.parametrize("name", ["v1-keyed", "v1-salted"])
def test_a_new_run_continues_an_old_ledger(name: str, tmp_path: Path) -> None:
    ledger_dir, expected = copy(name, tmp_path)
    key = expected["key"].encode() if expected["key"] else None
    before = read_ledger(ledger_dir, key)
    fp = next(iter(expected["states"]))
    writer = RunWriter(ledger_dir, "new", {"operation": "apply"}, key=key, after=before.heads)
    writer.intents([fp], "seg", "d" * 64)
    writer.results([{"fp": fp, "target": "seg", "status": "done", "code": 200}])
    writer.close()
    first = json.loads(writer.path.read_bytes().split(b"\n")[0])
    assert first["after"] == before.heads  # both old heads, by their format-1 ids
    ledger = read_ledger(ledger_dir, key)
    assert ledger.ok, ledger.breaks
    assert ledger.state_of(fp) == "done" and ledger.heads == [writer.head]
    assert verify_ledger(ledger_dir, key).ok


def test_after_keyed_records_an_unkeyed_run_is_an_error(tmp_path: Path) -> None:
    ledger_dir, expected = copy("v1-keyed", tmp_path)
    key = expected["key"].encode()
    RunWriter(ledger_dir, "new", {}, key=key).close()
    assert verify_ledger(ledger_dir, key).ok
    # an older reconciler (or a forger) writes a format-1 run after it
    old = legacy_write_run(ledger_dir, [("ab" * 32, "seg", "done")], "oldtool")
    report = verify_ledger(ledger_dir, key)
    assert report.breaks == [
        f"{old.path.name}:1: an unkeyed (format 1) run continues keyed records: written by an "
        "older reconciler after the upgrade, or forged"
    ]


def test_after_keyed_records_a_forged_old_branch_is_an_error(tmp_path: Path) -> None:
    """A format-1 run hung off an old record (not after the keyed ones): it is a head no
    keyed run continues."""
    ledger_dir, expected = copy("v1-keyed", tmp_path)
    key = expected["key"].encode()
    RunWriter(ledger_dir, "new", {}, key=key).close()
    forged = run_files(ledger_dir)[0].with_name("20261201T000000000000Z-forged.jsonl")
    first = run_files(ledger_dir)[0]
    line = first.read_bytes().split(b"\n")[0]
    rec = json.loads(line)
    rec.update(run="forged", prev=hashlib.sha256(line).hexdigest())
    forged.write_text(json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n")
    report = verify_ledger(ledger_dir, key)
    assert report.breaks == [
        f"{forged.name}:1: a format-1 (unkeyed) run that no keyed run continues: written by "
        "an older reconciler after the ledger became keyed, or forged"
    ]


def test_a_real_old_apply_plans_as_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`reconcile apply` of 0.1.x against the sandbox, in two runs: plan reads it as then."""
    root = tmp_path / "v1-apply"
    shutil.copytree(FIXTURES / "v1-apply", root)
    (root / "state").mkdir()
    shutil.move(str(root / "ledger"), str(root / "state" / "ledger"))
    expected = json.loads((root / "expected.json").read_text())
    monkeypatch.chdir(root)
    monkeypatch.setenv("FIX_LEDGER_KEY", expected["key"])
    result = run_cli("plan", "--format", "json")
    assert result.code == 0, result.output
    plan = json.loads(result.out)
    assert {a["fingerprint"]: a["state"] for a in plan["actions"]} == expected["plan_states"]
    assert plan["summary"] == expected["summary"]
    verify = run_cli("ledger", "verify")
    assert verify.code == 0, verify.output
    assert "The ledger verifies:" in verify.out

"""Signed saved plans against the sandbox: every attack of issue 17's "Saved plans accept
edits" finding is refused before anything is sent (zero vendor requests, no ledger run).

The project is keyed (ledger.key_env), so the plan carries an HMAC under the ledger key;
the attacker may write the file but does not hold the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.kit.e2e import BRAZE_DELETE_ONLY_KEY, BRAZE_KEY, Project, config, vendor_requests

KEY_ENV = "E2E_LEDGER_KEY"
KEY = "e2e-ledger-key-0f9e8d7c6b5a49382716aa55"
MODIFIED = "the plan file was modified"
PREFIX = 14  # magic (8), version (2), header length (4)
RECORD = 17


def keyed(project: Project, **top: object) -> None:
    project.write_config(ledger={"path": "state/ledger", "key_env": KEY_ENV}, **top)
    project.monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def kproject(project: Project) -> Project:
    keyed(project)
    assert project.cli("apply", "--auto-approve", "--target", "seg").code == 0
    return project


def refused(project: Project, sandbox, *args: str) -> str:
    before = vendor_requests(sandbox)
    runs = sorted((project.ledger_dir / "runs").glob("*")) if project.ledger_dir.exists() else []
    result = project.cli(*args)
    assert result.code == 1, result.output
    assert vendor_requests(sandbox) == before, "a refused plan sent something"
    after = sorted((project.ledger_dir / "runs").glob("*")) if project.ledger_dir.exists() else []
    assert after == runs, "a refused plan wrote to the ledger"
    assert "Traceback" not in result.err
    return result.err


def parts(data: bytes) -> tuple[dict, bytes, bytes]:
    """(header, records, mac) of a saved plan's bytes."""
    length = int.from_bytes(data[10:14], "big")
    header = json.loads(data[PREFIX : PREFIX + length])
    return header, data[PREFIX + length : -32], data[-32:]


def rebuilt(data: bytes, header: dict, records: bytes, key: bytes | None = None) -> bytes:
    """A well-formed file of this header and these records: the MAC recomputed under
    `key` (an attacker's guess), or the old MAC kept."""
    body = json.dumps(header, separators=(",", ":")).encode()
    start = data[:10] + len(body).to_bytes(4, "big") + body + records
    if key is None:
        return start + data[-32:]
    mac_key = hmac.digest(key, b"reconciler/plan/file-mac/v2", "sha256")
    return start + hmac.digest(mac_key, start, "sha256")


def test_changing_one_fingerprint_is_refused(kproject: Project, sandbox) -> None:
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    path = kproject.root / "plan.bin"
    data = path.read_bytes()
    header, records, _ = parts(data)
    # the first record's fingerprint, one bit changed: an item the review never showed
    edited = bytearray(records)
    edited[3] ^= 0x01
    path.write_bytes(rebuilt(data, header, bytes(edited)))
    err = refused(kproject, sandbox, "apply", "plan.bin")
    assert MODIFIED in err and "its MAC does not match" in err
    assert len(err.strip().splitlines()) == 1


def test_dropping_an_action_is_refused(kproject: Project, sandbox) -> None:
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    path = kproject.root / "plan.bin"
    data = path.read_bytes()
    header, records, _ = parts(data)
    # a well-formed file with one braze item fewer: the count and the bytes agree
    at = next(i for i, s in enumerate(header["sections"]) if s["target"] == "brz")
    offset = sum(s["count"] for s in header["sections"][:at]) * RECORD
    header["sections"][at]["count"] -= 1
    shorter = records[:offset] + records[offset + RECORD :]
    for attempt in (rebuilt(data, header, shorter), rebuilt(data, header, shorter, b"guess")):
        path.write_bytes(attempt)
        err = refused(kproject, sandbox, "apply", "plan.bin")
        assert MODIFIED in err
        err = refused(kproject, sandbox, "apply", "--reviewed", "plan.bin")
        assert MODIFIED in err
    # the file as written is applied: all of it (the control that the edit was the cause)
    path.write_bytes(data)
    result = kproject.cli("apply", "plan.bin")
    assert result.code == 0, result.output
    assert {e["vendor"] for e in vendor_requests(sandbox)} >= {"braze", "twilio_memory"}


def test_a_plan_of_another_project_is_refused(
    kproject: Project, sandbox, tmp_path: Path, capsys, monkeypatch
) -> None:
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    plan = (kproject.root / "plan.bin").read_bytes()
    # another project: same manifests, same key, its own ledger
    (tmp_path / "other").mkdir()
    other = Project(tmp_path / "other", sandbox.urls, capsys, monkeypatch)
    keyed(other)
    other.write_specs()
    assert other.cli("apply", "--auto-approve", "--target", "seg").code == 0
    (other.root / "plan.bin").write_bytes(plan)
    err = refused(other, sandbox, "apply", "plan.bin")
    assert "Saved plan is stale" in err and "a different ledger (another project" in err
    err = refused(other, sandbox, "apply", "--reviewed", "plan.bin")
    assert "cannot be applied here: it was made from another ledger" in err


def test_a_plan_of_another_project_without_ledgers_is_refused(
    project: Project, sandbox, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Neither project has a ledger yet: only reconciler.yaml tells them apart."""
    keyed(project)
    assert project.cli("plan", "--out", "plan.bin").code == 0
    plan = (project.root / "plan.bin").read_bytes()
    (tmp_path / "other").mkdir()
    other = Project(tmp_path / "other", sandbox.urls, capsys, monkeypatch)
    keyed(other, max_deletions=1000)  # another project's config
    other.write_specs()
    (other.root / "plan.bin").write_bytes(plan)
    err = refused(other, sandbox, "apply", "plan.bin")
    assert "Saved plan is stale: reconciler.yaml is not the one the plan was made with" in err
    err = refused(other, sandbox, "apply", "--reviewed", "plan.bin")
    assert "made before the ledger existed, with another reconciler.yaml" in err
    assert not other.ledger_dir.exists()


def test_a_plan_made_under_another_key_is_refused(kproject: Project, sandbox) -> None:
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    kproject.monkeypatch.setenv(KEY_ENV, "another-projects-key-77aa66bb55cc")
    err = refused(kproject, sandbox, "apply", "plan.bin")
    assert "the fingerprint key changed since the plan was made" in err
    assert "another-projects-key" not in err and KEY not in err


def test_renaming_the_credential_variable_makes_the_plan_stale(kproject: Project, sandbox) -> None:
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    # api_key_env now names another workspace's key
    kproject.monkeypatch.setenv("E2E_BRAZE_OTHER", BRAZE_DELETE_ONLY_KEY)
    doc = config(kproject.urls, ledger={"path": "state/ledger", "key_env": KEY_ENV})
    doc["targets"]["brz"]["api_key_env"] = "E2E_BRAZE_OTHER"
    (kproject.root / "reconciler.yaml").write_text(json.dumps(doc))
    for args in (("apply", "plan.bin"), ("apply", "--reviewed", "plan.bin")):
        err = refused(kproject, sandbox, *args)
        assert "the credential for target brz changed since the plan was made" in err
        assert "E2E_BRAZE_OTHER" in err and "E2E_BRAZE_KEY" in err
        assert BRAZE_DELETE_ONLY_KEY not in err and BRAZE_KEY not in err


def test_changing_the_credential_value_makes_the_plan_stale(kproject: Project, sandbox) -> None:
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    assert BRAZE_KEY.encode() not in (kproject.root / "plan.bin").read_bytes()
    kproject.monkeypatch.setenv("E2E_BRAZE_KEY", BRAZE_DELETE_ONLY_KEY)
    for args in (("apply", "plan.bin"), ("apply", "--reviewed", "plan.bin")):
        err = refused(kproject, sandbox, *args)
        assert "the credential for target brz changed since the plan was made" in err
        assert BRAZE_DELETE_ONLY_KEY not in err and BRAZE_KEY not in err
    # the credential back as it was: the plan holds again
    kproject.monkeypatch.setenv("E2E_BRAZE_KEY", BRAZE_KEY)
    result = kproject.cli("apply", "plan.bin")
    assert result.code == 0, result.output
    kproject.assert_no_secrets()


def test_without_a_key_the_digest_finds_accidents_and_says_so(project: Project, sandbox) -> None:
    result = project.cli("plan", "--out", "plan.bin")
    assert result.code == 0
    assert "plain SHA-256 digest, without a key" in result.err
    path = project.root / "plan.bin"
    data = path.read_bytes()
    path.write_bytes(data[:-40] + bytes((data[-40] ^ 1,)) + data[-39:])
    err = refused(project, sandbox, "apply", "plan.bin")
    assert MODIFIED in err and "its digest does not match" in err
    # ... but anyone can recompute a digest: accidents only, as the warning says
    header, records, _ = parts(data)
    start = data[: len(data) - 32]
    forged = start + hashlib.sha256(b"reconciler/plan/file-digest/v2\n" + start).digest()
    assert forged == data  # the digest is public: nothing but the key makes a MAC
    assert header["mac"] == "sha256" and len(records) % RECORD == 0


def test_a_format1_plan_is_refused_with_the_way_out(project: Project, sandbox) -> None:
    doc = project.plan_json()
    old = json.dumps({"kind": "reconciler-plan", **doc}, indent=1)  # what 0.1.x wrote
    (project.root / "old.json").write_text(old)
    for args in (("apply", "old.json"), ("apply", "--reviewed", "old.json")):
        err = refused(project, sandbox, *args)
        assert "format-1 saved plan" in err and "it carries no MAC" in err
        assert "reconcile plan --out FILE" in err
    shown = project.cli("show", "old.json", "--format", "json")
    assert shown.code == 0, shown.output
    assert json.loads(shown.out) == doc
    assert "unsigned" in shown.err
    assert project.cli("github", "outputs", "old.json").code == 1


def test_editing_the_header_claims_is_refused(kproject: Project, sandbox) -> None:
    """The scheme and key id are read before the MAC can be checked: editing them does
    not turn the file into an unsigned one, nor into one of another key."""
    assert kproject.cli("plan", "--out", "plan.bin").code == 0
    path = kproject.root / "plan.bin"
    data = path.read_bytes()
    header, records, _ = parts(data)
    path.write_bytes(rebuilt(data, {**header, "mac": "sha256"}, records))
    err = refused(kproject, sandbox, "apply", "plan.bin")
    assert MODIFIED in err and "its digest does not match" in err
    path.write_bytes(rebuilt(data, {**header, "key_id": "0" * 16}, records))
    err = refused(kproject, sandbox, "apply", "plan.bin")
    assert "or the file was modified" in err

"""Keyed (HMAC) vs salted fingerprints: plan needs the key when one is configured,
refuses a ledger made with another key, and warns on stderr when there is no key."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from reconciler.desired import Fingerprinter
from tests.kit.cli import run_cli
from tests.kit.ledger import KEY_ENV, TEST_KEY, Proj, write_run


def test_key_env_configured_but_unset_exits_1_naming_it(
    keyed_proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed_proj.add_all_vendors()
    monkeypatch.delenv(KEY_ENV)
    for fmt in ("text", "json", "markdown"):
        result = run_cli("plan", "--format", fmt, "--detailed-exitcode")
        assert result.code == 1
        assert f"ledger.key_env names {KEY_ENV}, which is not set" in result.err
        assert result.out == ""


def test_key_env_set_to_empty_is_unset(keyed_proj: Proj, monkeypatch: pytest.MonkeyPatch) -> None:
    keyed_proj.add_all_vendors()
    monkeypatch.setenv(KEY_ENV, "")
    result = run_cli("plan")
    assert result.code == 1 and KEY_ENV in result.err


def test_ledger_made_with_another_key_is_refused(
    keyed_proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed_proj.add_all_vendors()
    header = keyed_proj.create_ledger()
    monkeypatch.setenv(KEY_ENV, "a-different-key")
    other = Fingerprinter.keyed(b"a-different-key")
    result = run_cli("plan", "--detailed-exitcode")
    assert result.code == 1
    assert "the ledger was made with a different key" in result.err
    assert f"key id {header.key_id}" in result.err and other.key_id in result.err
    assert "refusing to compare" in result.err
    assert result.out == ""
    # ledger find and list need the same fingerprints: refused the same way
    listed = run_cli("ledger", "list")
    assert listed.code == 1 and "different key" in listed.err


def test_keyed_ledger_without_a_configured_key_is_refused(
    keyed_proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyed_proj.add_all_vendors()
    keyed_proj.create_ledger()
    # the config loses its key_env line
    text = (keyed_proj.root / "reconciler.yaml").read_text()
    keyed_proj.write("reconciler.yaml", text.replace(f"  key_env: {KEY_ENV}\n", ""))
    monkeypatch.delenv(KEY_ENV)
    result = run_cli("plan")
    assert result.code == 1
    assert "made with an HMAC key (ledger.key_env) but none is configured" in result.err


def test_salted_ledger_with_a_key_configured_is_refused(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj.add_all_vendors()
    proj.create_ledger()
    text = (proj.root / "reconciler.yaml").read_text()
    proj.write("reconciler.yaml", text.replace("targets:\n", f"  key_env: {KEY_ENV}\ntargets:\n"))
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    result = run_cli("plan")
    assert result.code == 1
    assert "made without a key (salted SHA-256) but a key is configured" in result.err


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_unkeyed_plan_warns_on_stderr_only(proj: Proj, fmt: str) -> None:
    proj.add_all_vendors()
    result = run_cli("plan", "--format", fmt)
    assert result.code == 0
    assert result.err.startswith("Warning: fingerprints are salted SHA-256 without a key")
    assert "guesses of emails and phone numbers" in result.err
    assert "Set ledger.key_env" in result.err
    if fmt != "json":
        assert "salted SHA-256" not in result.out
    else:
        data = json.loads(result.out)  # stdout stays pure JSON
        assert data["fingerprint"]["scheme"] == "sha256-salted"
        assert data["warnings"][0].startswith("fingerprints are salted SHA-256")


def test_keyed_plan_has_no_warning(keyed_proj: Proj) -> None:
    keyed_proj.add_all_vendors()
    result = run_cli("plan", "--format", "json")
    assert result.code == 0
    assert result.err == ""
    data = json.loads(result.out)
    assert data["fingerprint"] == {
        "scheme": "hmac-sha256",
        "key_id": Fingerprinter.keyed(TEST_KEY.encode()).key_id,
    }
    assert data["warnings"] == []


def test_keyed_fingerprints_are_hmac_of_the_canonical_item(keyed_proj: Proj) -> None:
    keyed_proj.add_all_vendors()
    data = json.loads(run_cli("plan", "--format", "json").out)
    items = keyed_proj.items()
    expected = [
        hmac.new(TEST_KEY.encode(), item.canonical(), hashlib.sha256).hexdigest() for item in items
    ]
    assert sorted(a["fingerprint"] for a in data["actions"]) == sorted(expected)


def test_salted_fingerprints_use_the_ledgers_salt(proj: Proj) -> None:
    proj.add_all_vendors()
    header = proj.create_ledger()
    assert header.salt is not None
    data = json.loads(run_cli("plan", "--format", "json").out)
    salt = bytes.fromhex(header.salt)
    expected = [hashlib.sha256(salt + item.canonical()).hexdigest() for item in proj.items()]
    assert sorted(a["fingerprint"] for a in data["actions"]) == sorted(expected)
    assert "new_ledger_salt" not in data["fingerprint"]


def test_a_plan_without_a_ledger_carries_the_salt_the_ledger_will_get(proj: Proj) -> None:
    proj.add_all_vendors()
    data = json.loads(run_cli("plan", "--format", "json").out)
    salt = bytes.fromhex(data["fingerprint"]["new_ledger_salt"])
    expected = {hashlib.sha256(salt + item.canonical()).hexdigest() for item in proj.items()}
    assert {a["fingerprint"] for a in data["actions"]} == expected
    assert data["fingerprint"]["key_id"] == Fingerprinter.salted(salt).key_id


def test_keyed_ledger_states_are_found_with_the_key(keyed_proj: Proj) -> None:
    keyed_proj.add_all_vendors()
    keyed_proj.create_ledger()
    items = keyed_proj.items()
    write_run(keyed_proj.ledger_dir, [(keyed_proj.fp(i), i.target, "done") for i in items])
    result = run_cli("plan", "--detailed-exitcode")
    assert result.code == 0, result.output
    assert result.out.rstrip().endswith(
        "No changes. Every declared absence is already recorded in the ledger."
    )

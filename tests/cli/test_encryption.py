"""`reconcile encrypt` / `decrypt`, and encrypted sources in validate and plan."""

from __future__ import annotations

import json
import os

import pyrage
import pytest
from pyrage import x25519

from tests.kit.specs import CONFIG_YAML, manifest

IDENTITY = x25519.Identity.generate()
KEY_VAR = "TEST_AGE_KEY"
CONFIG_WITH_KEY = CONFIG_YAML.replace(
    "targets:\n", f"sources:\n  age_key_env: {KEY_VAR}\ntargets:\n"
)
CSV = "user_id,type,value\nu_1,email,encrypted-row@example.com\n"


@pytest.fixture
def keyed(project, monkeypatch):
    project.write("reconciler.yaml", CONFIG_WITH_KEY)
    monkeypatch.setenv(KEY_VAR, str(IDENTITY))
    return project


def encrypt_to(project, rel: str, text: str) -> None:
    project.write(rel, pyrage.encrypt(text.encode(), [IDENTITY.to_public()]))


def test_encrypt_writes_file_age_and_never_overwrites(keyed):
    keyed.write("specs/bad.csv", CSV)
    result = keyed.run("encrypt", "specs/bad.csv")
    assert result.code == 0, result.output
    out = keyed.root / "specs/bad.csv.age"
    assert pyrage.decrypt(out.read_bytes(), [IDENTITY]).decode() == CSV
    assert "encrypted-row@example.com" not in result.output
    assert not [p for p in (keyed.root / "specs").iterdir() if p.name.endswith(".tmp")]
    again = keyed.run("encrypt", "specs/bad.csv")
    assert again.code == 1 and "refusing to overwrite" in again.err
    assert pyrage.decrypt(out.read_bytes(), [IDENTITY]).decode() == CSV


def test_encrypt_to_named_recipients(project):
    other = x25519.Identity.generate()
    project.write("specs/bad.csv", CSV)
    result = project.run(
        "encrypt",
        "specs/bad.csv",
        "--recipient",
        str(IDENTITY.to_public()),
        "--recipient",
        str(other.to_public()),
    )
    assert result.code == 0, result.output
    data = (project.root / "specs/bad.csv.age").read_bytes()
    assert pyrage.decrypt(data, [other]) == pyrage.decrypt(data, [IDENTITY]) == CSV.encode()


def test_encrypt_refuses_what_it_cannot_use(project, tmp_path_factory):
    project.write("specs/bad.csv", CSV)
    no_recipient = project.run("encrypt", "specs/bad.csv")
    assert no_recipient.code == 1 and "--recipient" in no_recipient.err
    secret_as_recipient = project.run("encrypt", "specs/bad.csv", "--recipient", str(IDENTITY))
    assert secret_as_recipient.code == 1 and "not an age public key" in secret_as_recipient.err
    assert str(IDENTITY) not in secret_as_recipient.output
    outside = tmp_path_factory.mktemp("outside") / "x.csv"
    outside.write_text(CSV)
    out_of_repo = project.run("encrypt", str(outside), "--recipient", str(IDENTITY.to_public()))
    assert out_of_repo.code == 1 and "outside the repository" in out_of_repo.err
    os.mkfifo(project.root / "specs/fifo.csv")
    fifo = project.run("encrypt", "specs/fifo.csv", "--recipient", str(IDENTITY.to_public()))
    assert fifo.code == 1 and "FIFO" in fifo.err
    assert not (project.root / "specs/fifo.csv.age").exists()


def test_decrypt_prints_only_when_asked(keyed):
    encrypt_to(keyed, "specs/bad.csv.age", CSV)
    refused = keyed.run("decrypt", "specs/bad.csv.age")
    assert refused.code == 1 and "--stdout" in refused.err
    assert "encrypted-row" not in refused.output
    shown = keyed.run("decrypt", "specs/bad.csv.age", "--stdout")
    assert shown.code == 0, shown.output
    assert sorted(p.name for p in (keyed.root / "specs").iterdir()) == ["bad.csv.age"]


def test_decrypt_without_the_key_or_with_another(keyed, monkeypatch):
    encrypt_to(keyed, "specs/bad.csv.age", CSV)
    monkeypatch.setenv(KEY_VAR, str(x25519.Identity.generate()))
    wrong = keyed.run("decrypt", "specs/bad.csv.age", "--stdout")
    assert wrong.code == 1 and "another recipient" in wrong.err
    monkeypatch.delenv(KEY_VAR)
    missing = keyed.run("decrypt", "specs/bad.csv.age", "--stdout")
    assert missing.code == 1 and f"key not available (set {KEY_VAR})" in missing.err
    monkeypatch.setenv(KEY_VAR, "not-a-key-value-SECRETISH")
    bad = keyed.run("decrypt", "specs/bad.csv.age", "--stdout")
    assert bad.code == 1 and "not an age identity" in bad.err
    assert "SECRETISH" not in bad.output


def test_validate_without_the_key_notices_and_checks_the_rest(keyed, monkeypatch):
    monkeypatch.delenv(KEY_VAR)
    encrypt_to(keyed, "specs/seg.yaml.age", manifest("absent_csv: [bad.csv.age]", name="enc"))
    encrypt_to(keyed, "specs/bad.csv.age", CSV)
    keyed.write("specs/plain.yaml", manifest("absent_csv: [other.csv.age]", name="plain"))
    encrypt_to(keyed, "specs/other.csv.age", CSV)
    result = keyed.run("validate")
    assert result.code == 0, result.output
    notices = [line for line in result.err.splitlines() if line.startswith("Notice: ")]
    assert notices == [
        f"Notice: specs/other.csv.age: encrypted source, key not available ({KEY_VAR}, "
        "named by sources.age_key_env, is not set)",
        f"Notice: specs/seg.yaml.age: encrypted source, key not available ({KEY_VAR}, "
        "named by sources.age_key_env, is not set)",
    ]
    github = keyed.run("validate", "--format", "github")
    assert github.code == 0
    assert github.out.count("::notice file=specs/") == 2
    # everything else is still checked
    keyed.write("specs/broken.yaml", manifest("absent: [{profile: {user_id: u}}]", name="b"))
    broken = keyed.run("validate")
    assert broken.code == 1 and "specs/broken.yaml:" in broken.err


def test_validate_with_the_key_checks_inside_and_names_the_encrypted_file(keyed):
    encrypt_to(keyed, "specs/seg.yaml.age", manifest("absent_csv: [bad.csv.age]", name="enc"))
    encrypt_to(keyed, "specs/bad.csv.age", "user_id,type,value\nu_1,email,no-at-sign\n")
    result = keyed.run("validate", "--format", "json")
    assert result.code == 1
    (diag,) = json.loads(result.out)["diagnostics"]
    assert diag["file"] == "specs/bad.csv.age" and diag["line"] == 2
    encrypt_to(keyed, "specs/bad.csv.age", CSV)
    encrypt_to(
        keyed, "specs/seg.yaml.age", manifest("absent_csv: [bad.csv.age]\nbogus: 1", name="e")
    )
    result = keyed.run("validate")
    assert result.code == 1 and result.err.startswith(
        "specs/seg.yaml.age:10: spec.bogus: unknown key"
    )


def test_a_damaged_encrypted_source_is_an_error_at_validate(keyed):
    keyed.write("specs/seg.yaml", manifest("absent_csv: [bad.csv.age]"))
    keyed.write("specs/bad.csv.age", b"age-encryption.org/v1\n-> X25519 garbage\n---\n")
    result = keyed.run("validate")
    assert result.code == 1
    assert "specs/bad.csv.age" in result.err and "cannot be decrypted" in result.err


def test_plan_with_the_key_reads_encrypted_values(keyed):
    keyed.write("specs/seg.yaml", manifest("absent_csv: [bad.csv.age]"))
    encrypt_to(keyed, "specs/bad.csv.age", CSV)
    result = keyed.run("plan", "--show-values")
    assert result.code == 0, result.output
    assert "encrypted-row@example.com" in result.out
    masked = keyed.run("plan")
    assert "encrypted-row@example.com" not in masked.output and "Plan: 1 to remove" in masked.out

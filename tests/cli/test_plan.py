"""`reconcile plan` end to end: exit codes, --target, errors, no network, no credentials."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, make_proj, write_run
from tests.kit.specs import segment_manifest

NO_CHANGES = "No changes. Every declared absence is already recorded in the ledger."


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    p = make_proj(tmp_path, monkeypatch)
    p.add_all_vendors()
    return p


def all_done(proj: Proj, *targets: str) -> None:
    if not proj.ledger_dir.exists():
        proj.create_ledger()
    items = [i for i in proj.items() if not targets or i.target in targets]
    write_run(proj.ledger_dir, [(proj.fp(i), i.target, "done") for i in items])


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_detailed_exitcode(proj: Proj, fmt: str) -> None:
    changes = run_cli("plan", "--format", fmt, "--detailed-exitcode")
    assert changes.code == 2
    assert run_cli("plan", "--format", fmt).code == 0
    all_done(proj)
    none = run_cli("plan", "--format", fmt, "--detailed-exitcode")
    assert none.code == 0
    assert NO_CHANGES in none.out


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.write("specs/bad.yaml", "apiVersion: reconciler/v1\nkind: Removal\n"),
         "problem(s) found"),
        (lambda p: p.write("specs/bad.yaml", segment_manifest("x", [("u_1", "a@b.example")],
                                                                target="nope")),
         "unknown target 'nope'"),
        (lambda p: p.write("reconciler.yaml", "version: 1\ntargets: {}\nsurprise: 1\n"),
         "unknown key 'surprise'"),
        (lambda p: p.write("state/ledger/header.jsonl", "not json\n"),
         "the ledger header is not valid JSON"),
        (lambda p: p.write("state/ledger/runs/x.jsonl", "{}\n"),
         "run files exist but header.jsonl is missing"),
    ],
    ids=["invalid-manifest", "unknown-target", "bad-config", "bad-header", "no-header"],
)  # fmt: skip
def test_errors_exit_1_even_with_detailed_exitcode(proj: Proj, setup, message: str) -> None:
    setup(proj)
    result = run_cli("plan", "--detailed-exitcode")
    assert result.code == 1
    assert message in result.err
    assert result.out == ""


def test_usage_errors_exit_1_not_2(proj: Proj) -> None:
    """2 means "changes pending": a usage error must never look like it."""
    result = run_cli("plan", "--format", "yaml", "--detailed-exitcode")
    assert result.code == 1
    assert "yaml" in result.err


def test_target_restricts_and_warns(proj: Proj) -> None:
    result = run_cli("plan", "--target", "braze")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == (
        "Warning: --target is in effect: this plan covers only braze. "
        "Other targets may have pending removals."
    )
    assert "# braze (braze)" in lines
    assert not any(line.startswith(("# seg", "# mem", "# ins")) for line in lines)
    assert lines[-1] == "Plan: 3 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held."

    two = run_cli("plan", "--target", "braze", "--target", "mem")
    assert "covers only braze, mem." in two.out
    assert two.out.splitlines()[-1] == (
        "Plan: 5 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held."
    )
    data = json.loads(run_cli("plan", "--format", "json", "--target", "mem").out)
    assert data["target_filter"] == ["mem"]
    assert [t["name"] for t in data["targets"]] == ["mem"]
    assert {a["target"] for a in data["actions"]} == {"mem"}


def test_target_exit_code_looks_only_at_that_target(proj: Proj) -> None:
    all_done(proj, "braze")
    assert run_cli("plan", "--target", "braze", "--detailed-exitcode").code == 0
    assert run_cli("plan", "--target", "seg", "--detailed-exitcode").code == 2


def test_unknown_target_is_an_error(proj: Proj) -> None:
    result = run_cli("plan", "--target", "nope", "--detailed-exitcode")
    assert result.code == 1
    assert "--target nope: no such target (targets: braze, ins, mem, seg)" in result.err


def test_plan_needs_no_network_and_no_credentials(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SEGMENT_TOKEN", "BRAZE_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                 "INSIDER_REQUEST_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("plan opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for fmt in ("text", "json", "markdown"):
        result = run_cli("plan", "--format", fmt, "--out", "p.plan", "--detailed-exitcode")
        assert result.code == 2, result.output


def test_plan_writes_nothing_into_the_ledger(proj: Proj) -> None:
    run_cli("plan")
    assert not proj.ledger_dir.exists()
    all_done(proj)
    before = {p: p.read_bytes() for p in proj.ledger_dir.rglob("*") if p.is_file()}
    run_cli("plan", "--out", "p.plan")
    after = {p: p.read_bytes() for p in proj.ledger_dir.rglob("*") if p.is_file()}
    assert before == after


def test_config_option_from_another_folder(proj: Proj, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = proj.root / "sub"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    found = run_cli("plan")  # found in a parent folder
    assert found.code == 0 and "Plan: 13 to remove" in found.out
    explicit = run_cli("--config", str(proj.root / "reconciler.yaml"), "plan")
    assert explicit.code == 0 and explicit.out == found.out

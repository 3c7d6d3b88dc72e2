"""`reconcile init`: scaffolds an empty repository; idempotent; never overwrites."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from reconciler.vendors.registry import installed
from tests.kit.cli import run_captured


def test_init_scaffolds_a_valid_project(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_captured(capsys, "init")
    assert result.code == 0, result.output
    for rel in (
        "reconciler.yaml",
        "specs/examples/segment-prod.yaml",
        "specs/examples/braze-prod.yaml",
        "specs/examples/memory-prod.yaml",
        "specs/examples/insider-prod.yaml",
        ".github/workflows/plan.yml",
        ".github/workflows/apply.yml",
        ".github/workflows/drift.yml",
        ".pre-commit-config.yaml",
    ):
        assert (tmp_path / rel).is_file(), rel
        assert f"created  {rel}" in result.out
    validate = run_captured(capsys, "validate")
    assert validate.code == 0, validate.output
    # one example per installed vendor (plugins too: their scaffold must validate)
    n = len(installed().vendors)
    assert f"{n} manifest(s) in {n} file(s) are valid: 0 item(s)" in validate.out
    plan = yaml.safe_load((tmp_path / ".github/workflows/plan.yml").read_text())
    uses = {s.get("uses") for s in plan["jobs"]["check"]["steps"]}
    assert "OWNER/reconciler@v1" in uses
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    assert hooks["repos"][0]["rev"] == "v1"


def test_the_commented_examples_are_valid_once_uncommented(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_captured(capsys, "init").code == 0
    for path in (tmp_path / "specs" / "examples").glob("*.yaml"):
        text = path.read_text().replace("  absent: []\n", "")
        path.write_text(re.sub(r"(?m)^  # ", "  ", text))
    result = run_captured(capsys, "validate")
    assert result.code == 0, result.output
    assert "0 item(s)" not in result.out


def test_init_is_idempotent_and_never_overwrites(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_captured(capsys, "init", "--vendor", "segment").code == 0
    config = tmp_path / "reconciler.yaml"
    config.write_text(config.read_text().replace("spa_CHANGE_ME", "spa_mine"))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = run_captured(capsys, "init", "--vendor", "segment")
    assert again.code == 0
    assert "0 file(s) created, 6 skipped" in again.out
    assert "skipped  reconciler.yaml (exists: left as it is)" in again.out
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_writes_examples_for_an_existing_config(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text(
        "version: 1\ntargets:\n  crm:\n    vendor: insider\n    partner_name: acme\n"
        "    token_env: T\n"
    )
    result = run_captured(capsys, "init")
    assert result.code == 0, result.output
    assert "skipped  reconciler.yaml" in result.out
    assert [p.name for p in (tmp_path / "specs/examples").iterdir()] == ["crm.yaml"]


def test_a_link_in_the_way_is_not_followed(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    (tmp_path / ".pre-commit-config.yaml").symlink_to(outside)
    assert run_captured(capsys, "init").code == 0
    assert not outside.exists()

"""`reconcile init`: scaffolds an empty repository; idempotent; never overwrites."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from reconciler import scaffold
from reconciler.vendors.registry import installed
from reconciler.vendors.schemas import editor_schema_text
from tests.kit.cli import run_captured

MODELINE = re.compile(r"\A# yaml-language-server: \$schema=(\S+)\n")


def test_init_scaffolds_a_valid_project(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_captured(capsys, "init")
    assert result.code == 0, result.output
    for rel in (
        "reconciler.yaml",
        ".reconciler/schemas/config.schema.json",
        ".reconciler/schemas/manifest.schema.json",
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
    assert "0 file(s) created, 8 skipped" in again.out
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


def schema_of(path: Path) -> dict:  # type: ignore[type-arg]
    """The schema a file's first line points an editor at, read from the disk."""
    found = MODELINE.match(path.read_text("utf-8"))
    assert found, path
    target = path.parent / found.group(1)
    assert not os.path.isabs(found.group(1)) and target.is_file(), target
    data: dict = json.loads(target.read_text("utf-8"))  # type: ignore[type-arg]
    return data


def test_init_writes_the_editors_schemas_and_the_files_use_them(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_captured(capsys, "init").code == 0
    folder = tmp_path / ".reconciler" / "schemas"
    # what `reconcile schema config|manifest` gives: the installed vendors', plugins too
    for kind in ("config", "manifest"):
        assert (folder / f"{kind}.schema.json").read_text("utf-8") == editor_schema_text(kind)
    config = tmp_path / "reconciler.yaml"
    assert schema_of(config) == json.loads(editor_schema_text("config"))
    checker = jsonschema.Draft202012Validator(schema_of(config))
    assert list(checker.iter_errors(yaml.safe_load(config.read_text()))) == []
    examples = sorted((tmp_path / "specs" / "examples").glob("*.yaml"))
    assert len(examples) == len(installed().vendors)
    for path in examples:
        schema = schema_of(path)
        assert schema == json.loads(editor_schema_text("manifest"))
        checker = jsonschema.Draft202012Validator(schema)
        assert [e.message for e in checker.iter_errors(yaml.safe_load(path.read_text()))] == []
        # the commented entries too, once uncommented (a plugin's fields are in the schema)
        text = path.read_text().replace("  absent: []\n", "")
        uncommented = yaml.safe_load(re.sub(r"(?m)^  # ", "  ", text))
        assert uncommented["spec"]["absent"], path
        assert [e.message for e in checker.iter_errors(uncommented)] == [], path
    # and a mistake shows in the editor: an unknown key
    bad = yaml.safe_load(examples[0].read_text())
    bad["spec"]["absnet"] = []
    assert not checker.is_valid(bad)


def test_an_existing_configs_specs_folder_gets_the_right_relative_schema_path(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text(
        "version: 1\nspecs: deletions/requests\ntargets:\n  crm:\n    vendor: insider\n"
        "    partner_name: acme\n    token_env: T\n"
    )
    assert run_captured(capsys, "init").code == 0
    example = tmp_path / "deletions/requests/examples/crm.yaml"
    assert MODELINE.match(example.read_text()).group(1) == (  # type: ignore[union-attr]
        "../../../.reconciler/schemas/manifest.schema.json"
    )
    assert schema_of(example)["title"] == "Removal manifest"


def test_init_is_all_or_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    real = os.link
    calls: list[str] = []

    def failing_link(src, dst, **kw):  # type: ignore[no-untyped-def]
        calls.append(str(dst))
        if len(calls) == 4:  # the fourth file: three are in place already
            raise OSError(28, "No space left on device")
        return real(src, dst, **kw)

    monkeypatch.setattr(scaffold.os, "link", failing_link)
    result = run_captured(capsys, "init")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "No space left on device (nothing was written)" in lines[0]
    assert lines[0].split(": ")[1].startswith("specs/examples/"), lines[0]
    assert list(tmp_path.iterdir()) == []  # no file, no folder, no file written aside
    monkeypatch.setattr(scaffold.os, "link", real)
    assert run_captured(capsys, "init").code == 0  # and a second try writes them all
    assert (tmp_path / ".reconciler/schemas/manifest.schema.json").is_file()


def test_a_new_folder_goes_again_when_init_fails(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)

    def no_space(src, dst, **kw):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scaffold.os, "link", no_space)
    result = run_captured(capsys, "init", "new/repo")
    assert result.code == 1 and "(nothing was written)" in result.err, result.output
    assert list(tmp_path.iterdir()) == []  # neither new/ nor new/repo/ left behind
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert run_captured(capsys, "init", "new/repo").code == 0
    assert (tmp_path / "new/repo/reconciler.yaml").is_file()


def test_a_schema_file_in_the_way_is_kept(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / ".reconciler/schemas/manifest.schema.json"
    mine.parent.mkdir(parents=True)
    mine.write_text("{}\n")
    result = run_captured(capsys, "init")
    assert result.code == 0
    assert "skipped  .reconciler/schemas/manifest.schema.json (exists: left as it is)" in (
        result.out
    )
    assert mine.read_text() == "{}\n"


@pytest.mark.parametrize("kind", ["config", "manifest"])
def test_the_schema_paths_are_where_the_files_say(kind: str) -> None:
    assert scaffold.schema_path(kind) == f".reconciler/schemas/{kind}.schema.json"

"""The JSON Schemas as editors use them: every manifest and config field described with
examples, `$id`s naming the file in the repository, `# yaml-language-server` lines in the
example files that resolve to the schema, examples that validate, and Braze's
delete_profiles rule described there (checked by validate for Braze targets only). The
editors' config and manifest schemas are generated (`reconcile schema`) from the core's part
and the vendors' packages:
the committed files are what it makes of the built-in vendors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from reconciler.scaffold import config_text, example_text
from reconciler.schemas import schema_errors
from reconciler.vendors.registry import installed
from reconciler.vendors.schemas import SCHEMAS as SCHEMAS_BY_NAME
from reconciler.vendors.schemas import (
    builtin_vendors,
    checked_manifest_schema,
    installed_schema,
    manifest_schema,
)
from tests.kit.project import Project
from tests.kit.specs import REPO_ROOT

SCHEMAS = REPO_ROOT / "reconciler" / "schemas"
EDITOR_SCHEMAS = ("manifest", "config")
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)


def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    return data


def properties(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, subschema) under a `properties` keyword, anywhere in `node`."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}.{name}", sub
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    yield from properties(sub, f"{path}.{name}")
            elif key not in ("examples", "const", "enum"):
                yield from properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from properties(value, f"{path}[{i}]")


@pytest.mark.parametrize("name", EDITOR_SCHEMAS)
def test_every_field_has_a_description_and_examples(name: str) -> None:
    root = schema(name)
    missing = [
        f"{path}: {what}"
        for path, sub in properties(root)
        for what in ("description", "examples")
        # the rules' own subschemas (if/then) are conditions, not fields
        if what not in sub and "/if" not in path and "/then" not in path
    ]
    assert missing == []


@pytest.mark.parametrize("name", EDITOR_SCHEMAS)
def test_every_example_is_valid_for_its_field(name: str) -> None:
    root = schema(name)
    for path, sub in properties(root):
        for example in sub.get("examples", []):
            checker = jsonschema.Draft202012Validator({**sub, "$defs": root.get("$defs", {})})
            errors = [e.message for e in checker.iter_errors(example)]
            assert errors == [], f"{path}: {example!r}"


def test_every_schema_id_is_its_file_in_the_repository() -> None:
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        sid = json.loads(path.read_text("utf-8"))["$id"]
        assert sid.startswith("https://raw.githubusercontent.com/"), path.name
        assert sid.endswith(f"/reconciler/schemas/{path.name}"), path.name
        # raw.githubusercontent.com/OWNER/REPO/REF/<path in the repository>
        in_repo = "/".join(sid.split("/")[6:])
        assert (REPO_ROOT / in_repo).is_file()


def example_files() -> list[tuple[Path, str]]:
    manifests = sorted((REPO_ROOT / "specs").rglob("*.yaml"))
    manifests += sorted((REPO_ROOT / "demo" / "specs").rglob("*.yaml"))
    configs = [REPO_ROOT / "reconciler.yaml", REPO_ROOT / "demo" / "reconciler.yaml"]
    return [(p, "manifest") for p in manifests] + [(p, "config") for p in configs]


@pytest.mark.parametrize(
    ("path", "kind"), example_files(), ids=lambda v: str(v).replace(str(REPO_ROOT), "")
)
def test_the_examples_point_editors_at_their_schema_and_validate(path: Path, kind: str) -> None:
    text = path.read_text("utf-8")
    lines = MODELINE.findall(text)
    assert len(lines) == 1 and text.startswith("# yaml-language-server:"), path
    assert (path.parent / lines[0]).resolve() == (SCHEMAS / f"{kind}.schema.json").resolve()
    checker = jsonschema.Draft202012Validator(schema(kind))
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    assert documents
    for doc in documents:  # every document of a multi-document file
        assert [e.message for e in checker.iter_errors(doc)] == []


def test_scaffolded_files_point_at_the_schemas_init_writes() -> None:
    # relative to the file (tests/cli/test_init.py checks they resolve and validate)
    assert MODELINE.findall(config_text(["segment"])) == [".reconciler/schemas/config.schema.json"]
    assert MODELINE.findall(example_text("seg", "segment")) == [
        "../../.reconciler/schemas/manifest.schema.json"
    ]


def manifest(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Removal",
        "metadata": {"name": "m", "owner": "o", "reason": "r"},
        "spec": {"target": "t", **spec},
    }


@pytest.mark.parametrize(
    "profile",
    [
        {"external_id": "e"},
        {"braze_id": "b"},
        {"user_alias": {"alias_name": "a", "alias_label": "l"}},
        {"email": "a@example.com", "prioritization": ["unidentified"]},
    ],
)
def test_the_braze_rule_is_checked_for_braze_targets_and_only_described_for_editors(
    profile: dict[str, Any],
) -> None:
    # validate knows the target's vendor: the Braze rule is checked for Braze targets
    checker = jsonschema.Draft202012Validator(checked_manifest_schema("braze"))
    whole = {"absent": [{"profile": profile}]}
    assert not checker.is_valid(manifest(whole))
    assert not checker.is_valid(manifest({**whole, "delete_profiles": False}))
    assert checker.is_valid(manifest({**whole, "delete_profiles": True}))
    # an editor does not: the rule is an annotation there (any target may be any vendor's)
    editor = jsonschema.Draft202012Validator(schema("manifest"))
    assert editor.is_valid(manifest(whole))
    assert schema_errors("manifest", manifest(whole)) == []
    spec = schema("manifest")["properties"]["spec"]
    assert "set spec.delete_profiles: true" in spec["description"]
    assert spec["x-rules"]["braze"]


@pytest.mark.parametrize(
    "entry",
    [
        {"profile": {"user_id": "u"}, "identifiers": [{"type": "email", "value": "a@b.example"}]},
        {"profile": {"email": "a@example.com"}, "attributes": ["name"]},
        {"identifiers": [{"type": "email", "value": "a@b.example"}]},
    ],
)
def test_other_vendors_entries_do_not_need_it(entry: dict[str, Any]) -> None:
    checker = jsonschema.Draft202012Validator(schema("manifest"))
    assert checker.is_valid(manifest({"absent": [entry]}))


# -- generated from the vendors' packages ---------------------------------------------------


@pytest.mark.parametrize("name", EDITOR_SCHEMAS)
def test_the_committed_schema_is_what_reconcile_schema_makes_of_the_built_in_vendors(
    name: str, project: Project
) -> None:
    result = project.run("schema", name, "--built-in-only")
    assert result.code == 0, result.err
    committed = (SCHEMAS / f"{name}.schema.json").read_text("utf-8")
    assert result.out == committed, (
        f"regenerate: reconcile schema {name} --built-in-only --out "
        f"reconciler/schemas/{name}.schema.json"
    )
    assert json.loads(result.out)["$id"] == schema(name)["$id"]


@pytest.mark.parametrize("name", EDITOR_SCHEMAS)
def test_validate_checks_against_the_same_schema_with_every_installed_vendor(name: str) -> None:
    assert installed_schema(name) == SCHEMAS_BY_NAME[name](list(installed().vendors.values()))
    if {v.name for v in builtin_vendors()} == set(installed().vendors):
        assert installed_schema(name) == schema(name)


def test_the_core_parts_name_no_vendor_and_the_vendors_add_theirs() -> None:
    builtin = {v.name: v for v in builtin_vendors()}
    assert set(builtin) == {"segment", "braze", "twilio_memory", "insider"}
    settings = schema("config")["properties"]["targets"]["additionalProperties"]["properties"]
    # each vendor's own settings, described by its package
    for name, vendor in builtin.items():
        for key in vendor.config_schema()["properties"]:
            assert settings[key]["description"], (name, key)
    assert settings["vendor"]["examples"] == sorted(builtin)
    # the spec setting and rule of one vendor are there only with that vendor
    alone = manifest_schema([builtin["segment"]])["properties"]["spec"]
    assert "delete_profiles" not in alone["properties"] and "allOf" not in alone
    with_braze = manifest_schema([builtin["braze"]])["properties"]["spec"]
    assert with_braze["properties"]["delete_profiles"]["type"] == "boolean"
    assert len(with_braze["x-rules"]["braze"]) == 1 and "allOf" not in with_braze


def test_schema_out_writes_the_file(project: Project) -> None:
    result = project.run("schema", "manifest", "--out", "editor/manifest.schema.json")
    assert (result.code, result.err) == (
        1,
        "Error: --out editor/manifest.schema.json: no such folder editor\n",
    )
    (project.root / "editor").mkdir()
    result = project.run("schema", "manifest", "--out", "editor/manifest.schema.json")
    assert result.code == 0, result.err
    assert "Wrote the manifest schema to editor/manifest.schema.json" in result.err
    written = json.loads((project.root / "editor/manifest.schema.json").read_text("utf-8"))
    assert written["properties"]["spec"]["properties"]["absent"]["items"]["properties"]
    # a plugin's schema is not the file in reconciler's repository: no $id then
    plugins = set(installed().vendors) - {v.name for v in builtin_vendors()}
    assert ("$id" in written) == (not plugins)


def test_schema_refuses_an_unknown_kind(project: Project) -> None:
    result = project.run("schema", "plan")
    assert result.code != 0
    assert "'plan' is not one of 'config', 'manifest'" in result.err

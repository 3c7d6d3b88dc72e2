"""The conformance kit's manifest-part check: each of its checks fails a vendor whose
manifest.part.json breaks it, and the built-in vendors' parts pass (tests/vendors)."""

from __future__ import annotations

import copy
import importlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.testing import run_check
from reconciler.vendors.registry import vendor
from tests.vendors.conformance_cases import BRAZE, SEGMENT

CHECK = "manifest-part"


class WithPart:
    """A built-in vendor whose manifest_part() is `part`: a deliberately broken vendor."""

    def __init__(self, inner: Any, part: Any) -> None:
        self._inner = inner
        self._part = part

    def manifest_part(self) -> Any:
        return self._part

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def problems_of(name: str, change: Any) -> list[str]:
    real = vendor(name)
    part = copy.deepcopy(dict(real.manifest_part()))
    change(part)
    cases = {"segment": SEGMENT, "braze": BRAZE}[name]
    return [f.problem for f in run_check(WithPart(real, part), cases, CHECK)]


def test_the_built_in_parts_pass() -> None:
    assert run_check(vendor("segment"), SEGMENT, CHECK) == []
    assert run_check(vendor("braze"), BRAZE, CHECK) == []


def test_a_part_file_that_is_not_json_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "conformance_badpart"
    package.mkdir()
    segment_dir = Path(sys.modules[type(vendor("segment")).__module__].__file__ or "").parent
    shutil.copyfile(segment_dir / "config.schema.json", package / "config.schema.json")
    (package / "manifest.part.json").write_text('{"locator": {"user_id": {"$ref": }}}\n')
    (package / "__init__.py").write_text(
        "from reconciler.vendors.segment import Segment\n\n\n"
        "class BadPart(Segment):\n    pass\n\n\nVENDOR = BadPart()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("conformance_badpart")
    try:
        found = [f.problem for f in run_check(module.VENDOR, SEGMENT, CHECK)]
    finally:
        sys.modules.pop("conformance_badpart", None)
    assert found == ["manifest.part.json is not JSON: line 1 column 34: Expecting value"]


def test_a_part_that_is_not_json_data_or_has_unknown_keys_fails() -> None:
    found = problems_of("segment", lambda p: p.update(examples={1, 2}))
    assert found == [
        "manifest_part() is not JSON data: Object of type set is not JSON serializable"
    ]
    found = problems_of("segment", lambda p: p.update(locators={}))
    assert found == [
        "manifest.part.json: unknown key 'locators' (allowed: $comment, examples, locator, spec)"
    ]
    found = problems_of("braze", lambda p: p["spec"].update(rule=[]))
    assert found == ["manifest.part.json: unknown key spec.rule (allowed: properties, rules)"]


def test_a_locator_key_that_is_not_valid_schema_or_points_nowhere_fails() -> None:
    found = problems_of("segment", lambda p: p["locator"]["user_id"].update(type="strng"))
    assert len(found) == 1 and found[0].startswith(
        "manifest.part.json: locator.user_id is not a valid JSON Schema"
    ), found
    found = problems_of(
        "segment", lambda p: p["locator"]["user_id"].update({"$ref": "#/$defs/ids"})
    )
    assert found == [
        "manifest.part.json: locator.user_id: $ref '#/$defs/ids' points nowhere "
        "(only local #/... references resolve)"
    ]


def test_a_locator_key_shaped_otherwise_than_another_vendors_fails() -> None:
    # Braze calling an integer user_id what Segment calls a string one
    found = problems_of(
        "braze", lambda p: p["locator"].update(user_id={"type": "integer", "description": "x"})
    )
    assert any("locator key 'user_id' has another shape in segment's part" in f for f in found), (
        found
    )
    # the same shape with other words is no collision (Braze's and Insider's email)
    assert (
        problems_of("braze", lambda p: p["locator"]["email"].update(description="other words"))
        == []
    )


def test_spec_properties_and_rules_that_are_not_valid_schema_fail() -> None:
    found = problems_of(
        "braze", lambda p: p["spec"]["properties"]["delete_profiles"].update(type="bool")
    )
    assert found and found[0].startswith(
        "manifest.part.json: spec.properties.delete_profiles is not a valid JSON Schema"
    ), found
    found = problems_of("braze", lambda p: p["spec"]["rules"][0]["if"].update(required="absent"))
    assert found and found[0].startswith(
        "manifest.part.json: spec.rules[0] is not a valid JSON Schema"
    ), found
    found = problems_of("braze", lambda p: p["spec"]["rules"].append({"required": ["x"]}))
    assert found == [
        "manifest.part.json: spec.rules[1] must be an if/then schema (the rule applies when "
        "`if` holds)"
    ]


def test_a_rule_without_the_message_validate_prints_fails() -> None:
    def no_messages(part: dict[str, Any]) -> None:
        then = part["spec"]["rules"][0]["then"]
        del then["x-required"]
        del then["properties"]["delete_profiles"]["x-message"]
        then["not"] = {"required": ["absent_csv"]}

    found = problems_of("braze", no_messages)
    assert found == [
        "manifest.part.json: spec.rules[0].then requires delete_profiles but has no "
        "x-required: validate would print jsonschema's words, not why the vendor needs it",
        "manifest.part.json: spec.rules[0].then.properties.delete_profiles has no x-message: "
        "the message validate prints",
        "manifest.part.json: spec.rules[0].then asserts not without an x-message",
    ]


def test_a_rule_naming_an_undeclared_spec_key_fails() -> None:
    def undeclared(part: dict[str, Any]) -> None:
        part["spec"]["rules"][0]["then"]["required"] = ["delete_profile"]

    found = problems_of("braze", undeclared)
    assert found == [
        "manifest.part.json: spec.rules[0].then names spec.delete_profile, which no part "
        "declares in spec.properties: a manifest could never satisfy it (the spec takes no "
        "unknown key)"
    ]


def test_an_example_that_does_not_validate_fails() -> None:
    # the schema: Braze's own rule wants delete_profiles; the vendor's check_spec too
    found = problems_of("braze", lambda p: p["examples"][0].pop("delete_profiles"))
    assert found == [
        "manifest.part.json: examples[0]: spec: an entry naming only a Braze user "
        "(external_id, braze_id, user_alias, or email/phone with prioritization) means "
        "deleting the whole user profile (irreversible): set spec.delete_profiles: true to "
        "say so",
        "manifest.part.json: examples[0]: the vendor's spec rules say spec: braze removes "
        "data only by deleting the whole user profile (irreversible): set "
        "spec.delete_profiles: true to say so",
    ]
    # an entry the vendor's entry schema refuses
    found = problems_of(
        "segment", lambda p: p["examples"][0]["absent"][0]["profile"].update(user_id="")
    )
    assert found == ["manifest.part.json: examples[0].absent[0].profile.user_id: must not be empty"]
    # not a spec at all
    found = problems_of("segment", lambda p: p["examples"].append({"target": "x"}))
    assert found == [
        "manifest.part.json: examples[1] must be a spec with target and absent (what "
        "editors are shown)"
    ]
    assert json.dumps(found)  # plain strings, as the kit reports them

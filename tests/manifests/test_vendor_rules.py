"""A vendor's spec rules (manifest.part.json "spec" -> "rules") hold for manifests of its
own targets only: validate checks a manifest against the rules of its target's vendor,
which the config names; the editors' schema, which cannot know that, keeps every rule as
an annotation that no validator checks."""

from __future__ import annotations

from typing import Any

import jsonschema

from reconciler.vendors.registry import installed
from reconciler.vendors.schemas import checked_manifest_schema, installed_schema
from tests.kit.project import Project
from tests.kit.specs import HEAD

BRAZE_MESSAGE = "set spec.delete_profiles: true to say so"


def test_a_segment_manifest_with_a_braze_user_entry_gets_no_braze_advice(
    project: Project,
) -> None:
    # an entry only a Braze target takes: wrong for Segment, and said so; before, the
    # Braze rule also told this Segment user to set delete_profiles (which Segment refuses)
    project.write(
        "specs/seg.yaml",
        HEAD.format(name="seg-x", target="seg") + "  absent:\n"
        "    - profile: {external_id: ext_2001}\n",
    )
    result = project.run("validate")
    assert result.code == 1
    problems = [line for line in result.err.splitlines() if line.startswith("specs/")]
    assert problems and all(p.startswith("specs/seg.yaml:10: spec.absent[0]") for p in problems), (
        result.output
    )
    assert any("segment locates profiles only by user_id" in p for p in problems)
    assert "delete_profiles" not in result.output


def test_a_braze_manifest_still_gets_the_braze_message_on_one_line(project: Project) -> None:
    project.write(
        "specs/braze.yaml",
        HEAD.format(name="braze-x", target="braze") + "  absent:\n"
        "    - profile: {external_id: ext_2001}\n",
    )
    result = project.run("validate")
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line.startswith("specs/")]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("specs/braze.yaml:7: spec: an entry naming only a Braze user")
    assert lines[0].endswith(BRAZE_MESSAGE)
    assert "Traceback" not in result.output
    # plan validates the same way
    plan = project.run("plan")
    assert plan.code == 1
    assert lines[0] in plan.err.splitlines(), plan.output


def test_plan_takes_a_segment_manifest_next_to_a_braze_one(project: Project) -> None:
    project.write(
        "specs/seg.yaml",
        HEAD.format(name="seg-x", target="seg") + "  absent:\n"
        "    - profile: {user_id: u_1001}\n"
        "      identifiers: [{type: email, value: jane@old-domain.example}]\n",
    )
    project.write(
        "specs/braze.yaml",
        HEAD.format(name="braze-x", target="braze") + "  delete_profiles: true\n  absent:\n"
        "    - profile: {external_id: ext_2001}\n",
    )
    plan = project.run("plan")
    assert plan.code == 0, plan.output
    assert "Plan: 2 to remove" in plan.out, plan.out


def manifest(target: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Removal",
        "metadata": {"name": "m", "owner": "o", "reason": "r"},
        "spec": {"target": target, **spec},
    }


WHOLE_BRAZE_USER = {"absent": [{"profile": {"external_id": "ext_2001"}}]}


def test_only_the_targets_vendor_rules_are_checked() -> None:
    braze = jsonschema.Draft202012Validator(checked_manifest_schema("braze"))
    assert not braze.is_valid(manifest("b", WHOLE_BRAZE_USER))
    assert braze.is_valid(manifest("b", {**WHOLE_BRAZE_USER, "delete_profiles": True}))
    for other in ("segment", "insider", "twilio_memory", None):
        checker = jsonschema.Draft202012Validator(checked_manifest_schema(other))
        assert checker.is_valid(manifest("s", WHOLE_BRAZE_USER)), other
        assert "allOf" not in checked_manifest_schema(other)["properties"]["spec"]
    # every installed vendor's settings are known whatever the target (the vendor's own
    # check_spec says "segment cannot delete profiles", not "unknown key")
    spec = checked_manifest_schema("segment")["properties"]["spec"]
    assert "delete_profiles" in spec["properties"]


def test_the_editors_schema_keeps_the_rules_as_annotations_only() -> None:
    schema = installed_schema("manifest")
    spec = schema["properties"]["spec"]
    assert "allOf" not in spec
    assert (
        spec["x-rules"]["braze"] == checked_manifest_schema("braze")["properties"]["spec"]["allOf"]
    )
    assert BRAZE_MESSAGE in spec["description"] and "braze:" in spec["description"]
    # so no editor user, whatever their target's vendor, sees a rule as an error
    checker = jsonschema.Draft202012Validator(schema)
    assert checker.is_valid(manifest("anything", WHOLE_BRAZE_USER))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(spec["x-rules"]) <= set(installed().vendors)

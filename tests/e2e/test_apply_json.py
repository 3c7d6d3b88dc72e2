"""`apply --format json`: one final document on stdout, valid against
schemas/apply.schema.json; the plan, progress and messages stay on stderr."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from reconciler.schemas import load_schema
from tests.kit.e2e import FIRST_APPLY, ITEMS, SEED, removal


def document(out: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(out)  # stdout holds the document and nothing else
    jsonschema.Draft202012Validator(load_schema("apply")).validate(doc)
    return doc


def test_apply_json_counts_per_target_and_a_second_run_says_no_changes(project, sandbox):
    result = project.cli("apply", "--auto-approve", "--format", "json")
    assert result.code == 0, result.output
    doc = document(result.out)
    removed, accepted, absent = FIRST_APPLY
    summary = doc["summary"]
    assert (summary["removed"], summary["accepted"], summary["already_absent"]) == FIRST_APPLY
    assert summary["line"].startswith("Apply complete! Items:")
    assert summary["line"] in result.err  # the text summary went to stderr
    assert doc["outcome"] == "complete" and doc["exit_code"] == 0
    assert doc["exit_meaning"].startswith("ok")
    assert doc["run_id"] and f"(run {doc['run_id']})" in result.err
    assert sum(t["to_send"] for t in doc["targets"]) == ITEMS
    by_target = {t["name"]: t for t in doc["targets"]}
    assert sum(t["removed"] + t["accepted"] + t["already_absent"] for t in by_target.values()) == (
        removed + accepted + absent
    )
    assert doc["failures"] == [] and doc["error"] is None

    again = project.cli("apply", "--auto-approve", "--format", "json")
    assert again.code == 0
    second = document(again.out)
    assert second["outcome"] == "no_changes" and second["run_id"] is None
    assert "Nothing to send." in again.err
    project.assert_no_secrets()


def test_apply_json_lists_failures_masked_and_exit_1(project, sandbox):
    project.write_specs(
        {
            "solo.yaml": removal(
                "solo-cleanup",
                "ins",
                {"absent": [{"identifiers": [{"type": "email", "value": "solo@example.com"}]}]},
            )
        }
    )
    result = project.cli("apply", "--auto-approve", "--format", "json")
    assert result.code == 1
    doc = document(result.out)
    assert doc["outcome"] == "finished_with_errors" and doc["exit_code"] == 1
    (failure,) = doc["failures"]
    assert failure["state"] == "rejected" and failure["code"] == 400
    assert failure["description"] == "identifier email s***@example.com"
    assert "solo@example.com" not in result.output
    ins = next(t for t in doc["targets"] if t["name"] == "ins")
    assert ins["rejected"] == 1


def test_apply_json_when_apply_refuses(project, sandbox):
    result = project.cli("apply", "--format", "json")  # no terminal, no --auto-approve
    assert result.code == 1
    doc = document(result.out)
    assert doc["outcome"] == "refused" and doc["run_id"] is None
    assert "nobody can approve" in doc["error"]
    assert "Error: standard input is not a terminal" in result.err
    # the plan it would have asked about was shown on stderr, not stdout
    assert "Reconciler will send the following removals" in result.err


def test_apply_json_lists_held_items_and_exit_4(project, sandbox):
    from tests.e2e.test_ledger_resolve import EMAIL, held_item

    for path in (project.root / "specs").iterdir():
        path.unlink()
    try:
        fp = held_item(project, sandbox)
        result = project.cli("apply", "--auto-approve", "--format", "json")
    finally:
        # held_item seeds the shared sandbox with its own users: later tests get the seed
        sandbox.control.reset(SEED)
    assert result.code == 4, result.output
    doc = document(result.out)
    assert doc["exit_code"] == 4 and doc["exit_meaning"].startswith("needs a person")
    assert doc["outcome"] == "no_changes" and doc["summary"]["held"] == 1
    (held,) = doc["held_items"]
    assert held["fingerprint"] == fp and held["target"] == "brz"
    assert EMAIL not in result.output
    assert "h***@old-domain.example" in held["description"]
    (brz,) = [t for t in doc["targets"] if t["name"] == "brz"]
    assert brz["held"] == 1

"""`reconcile validate --format json|github` and `validate FILE...` with cross-file checks."""

from __future__ import annotations

import json

from reconciler.errors import Problem
from reconciler.render.diagnostics import escape_data, escape_property, github_annotation
from reconciler.schemas import validator
from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML, manifest

ENTRY = """\
absent:
  - profile: {user_id: u_1}
    identifiers:
      - {type: email, value: a@example.com}
"""


def test_json_lists_every_problem_located_and_matches_the_schema(project: Project) -> None:
    project.write("specs/bad.yaml", manifest("absent: 3\n"))
    project.write("specs/worse.yaml", "kind: nope\n")
    result = project.run("validate", "--format", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert list(validator("validate").iter_errors(doc)) == []
    assert doc["valid"] is False and doc["format_version"] == "1"
    assert doc["summary"]["targets"] == 4
    found = {(d["file"], d["line"], d["location"]) for d in doc["diagnostics"]}
    assert ("specs/bad.yaml", 9, "spec.absent") in found
    assert ("specs/worse.yaml", 1, "kind") in found
    assert result.err == ""


def test_json_of_a_valid_project(project: Project) -> None:
    project.write("specs/ok.yaml", manifest(ENTRY))
    doc = json.loads(project.run("validate", "--format", "json").out)
    assert list(validator("validate").iter_errors(doc)) == []
    assert doc["valid"] is True and doc["diagnostics"] == []
    assert doc["summary"] == {"manifests": 1, "files": 1, "items": 1, "targets": 4}


def test_json_reports_a_broken_config_as_diagnostics(project: Project) -> None:
    project.write("reconciler.yaml", CONFIG_YAML.replace("vendor: braze", "vendor: brz"))
    result = project.run("validate", "--format", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert list(validator("validate").iter_errors(doc)) == []
    assert doc["summary"] is None
    [diag] = doc["diagnostics"]
    assert diag["file"] == "reconciler.yaml" and diag["line"] == 12


def test_github_annotations_land_on_the_lines(project: Project) -> None:
    project.write("specs/bad.yaml", manifest("absent: 3\n"))
    result = project.run("validate", "--format", "github")
    assert result.code == 1
    assert result.out.splitlines() == [
        "::error file=specs/bad.yaml,line=9,title=reconcile validate::"
        "spec.absent: must be a list, got a number"
    ]
    assert "1 problem(s) found" in result.err


def test_github_without_problems_prints_the_success_line(project: Project) -> None:
    project.write("specs/ok.yaml", manifest(ENTRY))
    result = project.run("validate", "--format", "github")
    assert result.code == 0
    assert result.out.startswith("Success! 1 manifest(s)")
    assert "::" not in result.out


def test_annotations_are_escaped_so_nothing_can_start_a_command() -> None:
    problem = Problem("specs/a,b:c.yaml", 3, "x", "50% off\n::add-mask::x\rdone")
    line = github_annotation(problem)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("::error file=specs/a%2Cb%3Ac.yaml,line=3,title=reconcile validate::")
    message = line.split("::", 2)[2]
    assert "%25" in message and "::add-mask::" in message  # data: only %, CR, LF escaped
    assert escape_data("a%\r\n") == "a%25%0D%0A"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_given_files_are_checked_against_names_in_the_rest_of_specs(project: Project) -> None:
    # the other file comes first in specs/ order, so a full run reports the given one...
    project.write("specs/a-other.yaml", manifest(ENTRY, name="shared-name"))
    project.write("specs/b-mine.yaml", manifest(ENTRY, name="shared-name"))
    full = project.run("validate")
    assert full.code == 1 and "specs/b-mine.yaml:4: metadata.name: duplicate" in full.err
    one = project.run("validate", "specs/b-mine.yaml")
    assert one.code == 1
    assert "duplicate manifest name 'shared-name': also declared in specs/a-other.yaml:4" in one.err
    # ...and when the given file comes first, the clash is still reported, in the given file
    other = project.run("validate", "specs/a-other.yaml")
    assert other.code == 1
    assert "specs/a-other.yaml:4: metadata.name: duplicate manifest name" in other.err
    assert "also declared in specs/b-mine.yaml:4" in other.err


def test_given_files_ignore_problems_of_the_others(project: Project) -> None:
    project.write("specs/ok.yaml", manifest(ENTRY, name="mine"))
    project.write("specs/broken.yaml", "kind: [unclosed\n")
    project.write("specs/invalid.yaml", manifest("absent: 3\n", name="theirs"))
    result = project.run("validate", "specs/ok.yaml")
    assert result.code == 0, result.output
    assert "1 manifest(s) in 1 file(s)" in result.out

"""`reconcile diff --base REF` on a temporary git repository: manifests and CSV sources
added, dropped and modified between commits."""

from __future__ import annotations

import json
import subprocess

import pytest

from reconciler.schemas import validator
from tests.kit.project import Project
from tests.kit.specs import manifest

SEG = """\
absent:
  - profile: {user_id: u_1}
    identifiers:
      - {type: email, value: alice@old.example}
      - {type: phone, value: "+15555550100"}
"""
CSV_HEAD = "user_id,type,value\n"


def git(project: Project, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=project.root, capture_output=True, text=True, check=True,
        env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
             "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(project.root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return out.stdout.strip()


@pytest.fixture
def repo(project: Project) -> Project:
    git(project, "init", "-q", "-b", "main")
    project.write("specs/seg.yaml", manifest(SEG, name="seg-cleanup"))
    project.write(
        "specs/bulk.yaml",
        manifest("absent_csv: [bulk.csv]\n", name="bulk-cleanup"),
    )
    project.write(
        "specs/bulk.csv", CSV_HEAD + "u_2,email,bob@old.example\nu_3,email,c@old.example\n"
    )
    project.write("specs/gone.yaml", manifest(SEG.replace("u_1", "u_9"), name="gone-cleanup"))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "base")
    return project


def change(project: Project) -> None:
    """A pull request: one manifest added, one dropped, one edited, the CSV reshuffled."""
    project.write(
        "specs/seg.yaml",
        manifest(SEG.replace("alice@old.example", "alice@new.example"), name="seg-cleanup")
        .replace("reason: a test", "reason: a better test"),
    )  # fmt: skip
    (project.root / "specs/gone.yaml").unlink()
    project.write("specs/new.yaml", manifest(SEG.replace("u_1", "u_5"), name="new-cleanup"))
    # row order changes nothing; one row dropped, one added
    project.write(
        "specs/bulk.csv", CSV_HEAD + "u_4,email,d@old.example\nu_2,email,bob@old.example\n"
    )


def test_text_says_what_was_added_dropped_and_modified(repo: Project) -> None:
    change(repo)
    result = repo.run("diff", "--base", "main")
    assert result.code == 0, result.output
    out = result.out
    assert "- manifest gone-cleanup (specs/gone.yaml): dropped" in out
    assert "+ manifest new-cleanup (specs/new.yaml): added" in out
    assert "~ manifest seg-cleanup (specs/seg.yaml): modified" in out
    assert "~ metadata.reason: 'a test of what validate accepts and refuses' -> " in out
    # the edited identifier: one item dropped, one added, values masked
    assert "+ email a***@new.example on user_id u**  # specs/seg.yaml:" in out
    assert "- email a***@old.example on user_id u**  # was specs/seg.yaml:" in out
    assert "dropping an entry restores nothing already removed" in out
    # the CSV by content: c dropped, d added, bob (moved from row 2 to 3) unchanged
    assert "~ manifest bulk-cleanup (specs/bulk.yaml): modified" in out
    assert "+ email d***@old.example on user_id u**  # specs/bulk.csv:2" in out
    assert "- email c***@old.example on user_id u**  # was specs/bulk.csv:3" in out
    assert "bob" not in out and "b***@old.example" not in out
    assert "alice@" not in out
    assert out.rstrip().endswith(
        "Diff against main: 1 manifest(s) added, 1 dropped, 2 modified; 4 item(s) added, 4 dropped."
    )


def test_json_follows_its_schema_and_shows_values_only_when_asked(repo: Project) -> None:
    change(repo)
    doc = json.loads(repo.run("diff", "--base", "main", "--format", "json").out)
    assert list(validator("diff").iter_errors(doc)) == []
    by_name = {m["name"]: m for m in doc["manifests"]}
    assert set(by_name) == {"gone-cleanup", "new-cleanup", "seg-cleanup", "bulk-cleanup"}
    assert [d["description"] for d in by_name["bulk-cleanup"]["dropped"]] == [
        "email c***@old.example on user_id u**"
    ]
    shown = json.loads(repo.run("diff", "--base", "main", "--format", "json", "--show-values").out)
    assert "alice@new.example" in json.dumps(shown) and shown["values_shown"] is True


def test_an_item_moved_to_another_manifest_is_still_declared(repo: Project) -> None:
    (repo.root / "specs/gone.yaml").unlink()
    repo.write("specs/moved.yaml", manifest(SEG.replace("u_1", "u_9"), name="moved-cleanup"))
    out = repo.run("diff", "--base", "main").out
    assert "(still declared by moved-cleanup)" in out


def test_markdown(repo: Project) -> None:
    change(repo)
    md = repo.run("diff", "--base", "main", "--format", "markdown").out
    assert md.startswith("### reconcile diff\n")
    assert md.count("<details>") == md.count("</details>") == 4
    assert "> Dropped items: dropping an entry restores nothing already removed" in md


def test_no_changes(repo: Project) -> None:
    result = repo.run("diff", "--base", "HEAD")
    assert result.code == 0 and result.out == "No changes to manifests against HEAD.\n"
    repo.write("specs/seg.yaml", "# reformatted\n" + manifest(SEG, name="seg-cleanup"))
    assert repo.run("diff", "--base", "HEAD").out == "No changes to manifests against HEAD.\n"


def test_against_an_older_commit_with_the_working_tree_committed(repo: Project) -> None:
    base = git(repo, "rev-parse", "HEAD")
    change(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the change")
    out = repo.run("diff", "--base", base).out
    assert "1 manifest(s) added, 1 dropped, 2 modified" in out
    assert repo.run("diff", "--base", "HEAD").out.startswith("No changes")


def test_a_base_that_is_not_a_commit(repo: Project) -> None:
    result = repo.run("diff", "--base", "no-such-branch")
    assert result.code == 1
    assert "--base no-such-branch: no such commit in this repository" in result.err


def test_a_csv_source_outside_the_repository_at_the_base_is_a_problem(repo: Project) -> None:
    repo.write("specs/out.yaml", manifest("absent_csv: [../../x.csv]\n", name="out"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "bad")
    (repo.root / "specs/out.yaml").unlink()
    result = repo.run("diff", "--base", "HEAD")
    assert result.code == 0
    assert "1 problem(s) in the manifests at HEAD" in result.err


def test_the_working_tree_must_be_valid(repo: Project) -> None:
    repo.write("specs/bad.yaml", "kind: nope\n")
    result = repo.run("diff", "--base", "main")
    assert result.code == 1 and "specs/bad.yaml:1: kind: must be Removal" in result.err


def test_markdown_with_values_is_refused_unless_the_user_says_it_posts_pii(repo: Project) -> None:
    change(repo)
    refused = repo.run("diff", "--base", "main", "--format", "markdown", "--show-values")
    assert refused.code == 1 and "--i-know-this-posts-pii" in refused.err
    assert "alice@new.example" not in refused.output
    allowed = repo.run(
        "diff", "--base", "main", "--format", "markdown", "--show-values", "--i-know-this-posts-pii"
    )
    assert allowed.code == 0 and "alice@new.example" in allowed.out

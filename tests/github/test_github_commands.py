"""`reconcile github ...` against a fake GitHub API over loopback: the requests it got."""

from __future__ import annotations

import io
import json
import zipfile

from reconciler.render.markdown import render_markdown
from tests.github.fakeapi import TOKEN, FakeGitHub
from tests.kit.project import Project
from tests.kit.specs import manifest
from tests.render.test_markdown import BRAZE, SEG, big_plan

PR = 12
MARK = "<!-- reconcile:plan part="


def post(project: Project, text: str, pr: int = PR):
    project.write("comment.md", text)
    return project.run("github", "comment", "--pr", str(pr), "--file", "comment.md")


def plan_comments(fake: FakeGitHub, pr: int = PR) -> list[str]:
    return [b for b in fake.comments_on(pr) if b.startswith(MARK)]


def test_one_comment_updated_in_place(project: Project, fake: FakeGitHub) -> None:
    other = fake.add_comment(PR, "LGTM, but check the Braze ones")
    [first] = render_markdown(big_plan([(SEG, 3)]))
    result = post(project, first)
    assert result.code == 0, result.output
    assert "1 created, 0 updated" in result.out
    [second] = render_markdown(big_plan([(SEG, 5)]))
    result = post(project, second)
    assert "0 created, 1 updated" in result.out
    assert plan_comments(fake) == [second]
    assert fake.comments[other]["body"] == "LGTM, but check the Braze ones"  # untouched
    assert fake.calls("POST") == [("POST", f"/repos/acme/cleanups/issues/{PR}/comments")]
    assert len(fake.calls("PATCH")) == 1
    # the same body again changes nothing
    assert "1 unchanged" in post(project, second).out
    assert len(fake.calls("PATCH")) == 1
    assert all(r.authorized for r in fake.requests)
    assert TOKEN not in result.output


def test_a_long_plan_is_numbered_comments_and_a_shorter_one_removes_the_extra(
    project: Project, fake: FakeGitHub
) -> None:
    long = render_markdown(big_plan([(BRAZE, 2_000)]))  # every line irreversible: never cut
    assert len(long) >= 3
    result = post(project, "".join(long))
    assert result.code == 0, result.output
    assert plan_comments(fake) == long
    short = render_markdown(big_plan([(BRAZE, 2)]))
    result = post(project, "".join(short))
    assert f"{len(long) - 1} deleted" in result.out
    assert plan_comments(fake) == short
    assert len(fake.comments_on(PR)) == 1


def test_never_more_than_one_comment_for_a_part(project: Project, fake: FakeGitHub) -> None:
    [body] = render_markdown(big_plan([(SEG, 1)]))
    fake.add_comment(PR, body)
    fake.add_comment(PR, body.replace("u_", "x_"))  # a second one, e.g. from a race
    result = post(project, body)
    assert "1 deleted" in result.out
    assert plan_comments(fake) == [body]


def test_a_file_without_markers_is_split_when_long(project: Project, fake: FakeGitHub) -> None:
    text = "".join(f"line {i:06d} of an apply summary\n" for i in range(5_000))  # ~150 KB
    result = post(project, text)
    assert result.code == 0, result.output
    bodies = plan_comments(fake)
    assert len(bodies) == 3
    assert all(len(b) <= 65_536 for b in bodies)
    assert bodies[0].startswith(f"{MARK}1/3 -->\n") and bodies[2].startswith(f"{MARK}3/3 -->\n")
    lines = [line for b in bodies for line in b.splitlines()[1:]]
    assert lines == text.splitlines()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


MERGE = "c0ffee" + "0" * 34
HEAD = "beef" + "1" * 36


def saved_plan(project: Project) -> bytes:
    entry = (
        "absent:\n  - profile: {user_id: u_1}\n    identifiers: [{type: email, value: a@x.ex}]\n"
    )
    project.write("specs/a.yaml", manifest(entry))
    assert project.run("plan", "--out", "made.json").code == 0
    return (project.root / "made.json").read_bytes()


def artifact(
    fake: FakeGitHub, head: str, data: bytes, created: str, member: str = "reconcile.plan"
) -> int:
    aid = fake.next_id()
    fake.artifacts.append(
        {"id": aid, "name": f"reconcile-plan-{HEAD}", "expired": False, "created_at": created,
         "workflow_run": {"id": 1, "head_sha": head}}
    )  # fmt: skip
    fake.blobs[aid] = zipped({member: data})
    return aid


def test_reviewed_plan_of_the_merged_pull_request(project: Project, fake: FakeGitHub) -> None:
    plan = saved_plan(project)
    fake.pulls_of_commit[MERGE] = [
        {"number": 3, "merged_at": None, "merge_commit_sha": "other", "head": {"sha": "x"}},
        {"number": 7, "merged_at": "2026-11-01T10:00:00Z", "merge_commit_sha": MERGE,
         "head": {"sha": HEAD}},
    ]  # fmt: skip
    artifact(fake, "f" * 40, b'{"forged": true}', "2026-11-02")  # a run on another commit
    good = artifact(fake, HEAD, plan, "2026-11-01")
    result = project.run("github", "reviewed-plan", "--sha", MERGE, "--out", "reviewed.json")
    assert result.code == 0, result.output
    assert "reviewed plan of #7 (head beef11111111)" in result.out
    assert (project.root / "reviewed.json").read_bytes() == plan
    paths = [path for _, path in fake.calls()]
    assert f"/repos/acme/cleanups/actions/artifacts/{good}/zip" in paths
    [blob] = [r for r in fake.requests if r.path.startswith("/blob/")]
    assert blob.authorized is False  # the token did not follow the redirect to storage


def test_no_merged_pull_request_means_no_reviewed_plan(project: Project, fake: FakeGitHub):
    result = project.run("github", "reviewed-plan", "--sha", MERGE, "--out", "reviewed.json")
    assert result.code == 1
    assert "no pull request was merged as commit c0ffee000000" in result.err
    assert not (project.root / "reviewed.json").exists()


def test_no_artifact_for_the_head_commit(project: Project, fake: FakeGitHub) -> None:
    fake.pulls_of_commit[MERGE] = [
        {"number": 7, "merged_at": "2026-11-01", "merge_commit_sha": MERGE, "head": {"sha": HEAD}}
    ]
    artifact(fake, "f" * 40, b"{}", "2026-11-02")
    result = project.run("github", "reviewed-plan", "--sha", MERGE, "--out", "reviewed.json")
    assert result.code == 1
    assert f"no artifact reconcile-plan-{HEAD}" in result.err
    assert not (project.root / "reviewed.json").exists()


def test_an_artifact_that_is_not_a_saved_plan_is_refused(project: Project, fake: FakeGitHub):
    fake.pulls_of_commit[MERGE] = [
        {"number": 7, "merged_at": "2026-11-01", "merge_commit_sha": MERGE, "head": {"sha": HEAD}}
    ]
    artifact(fake, HEAD, b'{"kind": "something else"}', "2026-11-02")
    result = project.run("github", "reviewed-plan", "--sha", MERGE, "--out", "reviewed.json")
    assert result.code == 1 and "not a saved plan" in result.err


def test_a_format1_plan_of_an_older_workflow_is_refused_with_the_way_out(
    project: Project, fake: FakeGitHub
) -> None:
    """Workflows scaffolded before the signed format upload `plan.json`, a format-1 plan."""
    fake.pulls_of_commit[MERGE] = [
        {"number": 7, "merged_at": "2026-11-01", "merge_commit_sha": MERGE, "head": {"sha": HEAD}}
    ]
    old = b'{\n "kind": "reconciler-plan",\n "format_version": "1",\n "actions": []\n}\n'
    artifact(fake, HEAD, old, "2026-11-02", member="plan.json")
    result = project.run("github", "reviewed-plan", "--sha", MERGE, "--out", "reviewed.plan")
    assert result.code == 1
    assert "format-1 saved plan" in result.err and "Make the plan again" in result.err


def test_one_issue_opened_then_updated(project: Project, fake: FakeGitHub) -> None:
    fake.issues[1] = {"number": 1, "state": "open", "title": "unrelated", "body": ""}
    project.write("drift.md", "2 items drifted\n")
    title = "reconcile: drift or held items"
    first = project.run(
        "github", "issue", "--title", title, "--file", "drift.md", "--label", "drift"
    )
    assert first.code == 0 and "Opened issue #2." in first.out
    project.write("drift.md", "3 items drifted\n")
    second = project.run("github", "issue", "--title", title, "--file", "drift.md")
    assert "Updated issue #2." in second.out
    assert len(fake.issues) == 2 and fake.issues[2]["body"].endswith("3 items drifted\n")
    assert fake.issues[2]["labels"] == ["drift"]
    assert fake.issues[1]["body"] == ""
    assert len(fake.calls("POST")) == 1


def test_labels(project: Project, fake: FakeGitHub) -> None:
    add = project.run("github", "label", "--pr", "5", "--name", "irreversible")
    assert add.code == 0 and fake.labels[5] == ["irreversible"]
    remove = project.run("github", "label", "--pr", "5", "--name", "irreversible", "--absent")
    assert remove.code == 0 and fake.labels[5] == []
    again = project.run("github", "label", "--pr", "5", "--name", "irreversible", "--absent")
    assert again.code == 0  # removing an absent label is fine


def test_dispatch(project: Project, fake: FakeGitHub) -> None:
    result = project.run(
        "github", "dispatch", "--workflow", "apply.yml", "--ref", "main", "--input", f"sha={MERGE}"
    )
    assert result.code == 0, result.output
    assert fake.dispatches == [{"workflow": "apply.yml", "ref": "main", "inputs": {"sha": MERGE}}]


def test_outputs_of_a_saved_plan(project: Project) -> None:
    saved_plan(project)
    result = project.run("github", "outputs", "made.json")
    assert result.code == 0
    assert result.out.splitlines() == [
        "has_changes=true",
        "deletions=1",
        "irreversible=0",
        "held=0",
        "summary=Plan: 1 to remove, 0 already removed, 0 unknown, 0 to retry, 0 held.",
    ]


def test_errors_are_one_line_and_never_show_the_token(project: Project, fake, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_wrong-token-abcdefghijklmnop")
    result = post(project, "hello\n")
    assert result.code == 1
    assert result.err.strip() == (
        f"Error: GitHub API GET /repos/acme/cleanups/issues/{PR}/comments: "
        "HTTP 401: Bad credentials"
    )
    assert "ghs_wrong" not in result.output


def test_a_missing_token_is_named(project: Project, fake, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    result = post(project, "hello\n")
    assert result.code == 1 and "GITHUB_TOKEN is not set" in result.err
    assert fake.requests == []


def test_plain_http_is_refused_off_loopback(project: Project, fake, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://api.example.com")
    result = post(project, "hello\n")
    assert result.code == 1 and "GITHUB_API_URL must be https://" in result.err


def test_comments_are_read_page_by_page(project: Project, fake: FakeGitHub) -> None:
    fake.page_size = 2
    for i in range(5):
        fake.add_comment(PR, f"chatter {i}")
    [body] = render_markdown(big_plan([(SEG, 1)]))
    fake.add_comment(PR, body.replace("u_", "x_"))  # the 6th comment: on the third page
    result = post(project, body)
    assert "0 created, 1 updated" in result.out
    pages = [r.query.get("page") for r in fake.requests if r.method == "GET"]
    assert pages == [None, "2", "3"]
    assert json.dumps(plan_comments(fake)) == json.dumps([body])

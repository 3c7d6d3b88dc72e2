"""`reconcile github ...`: what the workflows ask of GitHub, through its REST API.

The token comes from GITHUB_TOKEN, the API from GITHUB_API_URL (default
https://api.github.com, as GitHub Actions sets it), the repository from
GITHUB_REPOSITORY or --repo. The token is never printed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.env import secret
from reconciler.errors import ReconcilerError
from reconciler.github.artifacts import download_reviewed_plan
from reconciler.github.client import DEFAULT_API_URL, GitHub
from reconciler.github.comments import bodies_of, post_plan_comment, set_label
from reconciler.github.issues import upsert_issue
from reconciler.github.outputs import plan_outputs
from reconciler.inputs import InputRefused, decode_utf8, read_bounded
from reconciler.plan.planfile import peek_plan

MAX_BODY_BYTES = 64 * 1024 * 1024

repo_option = click.option(
    "--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY, as GitHub Actions sets it)."
)


def _client(repo: str | None) -> GitHub:
    repository = repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise ReconcilerError("no repository: set GITHUB_REPOSITORY or give --repo OWNER/NAME")
    api = os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    return GitHub(api, secret("GITHUB_TOKEN"), repository)


def _read_text(path: Path) -> str:
    try:
        return decode_utf8(read_bounded(path, MAX_BODY_BYTES, str(path)), str(path))
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc


@click.group()
def github() -> None:
    """Talk to GitHub for the workflows: plan comment, reviewed plan, labels, issues."""


@github.command("comment")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull request number.")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The comment body (plan --format markdown's output).",
)
@repo_option
def comment(pr: int, file: Path, repo: str | None) -> int:
    """Post the plan comment (plan --format markdown output), updating it in place."""
    bodies = bodies_of(_read_text(file))
    with _client(repo) as gh:
        result = post_plan_comment(gh, pr, bodies)
    click.echo(
        f"Plan comment on #{pr}: {len(bodies)} part(s); {len(result.created)} created, "
        f"{len(result.updated)} updated, {len(result.unchanged)} unchanged, "
        f"{len(result.deleted)} deleted."
    )
    return 0


@github.command("label")
@click.option("--pr", type=click.IntRange(min=1), required=True, help="Pull request number.")
@click.option("--name", required=True, help="The label.")
@click.option("--present/--absent", default=True, help="Add it (default) or remove it.")
@repo_option
def label(pr: int, name: str, present: bool, repo: str | None) -> int:
    """Add or remove a label on a pull request."""
    with _client(repo) as gh:
        set_label(gh, pr, name, present)
    click.echo(f"Label {name!r} {'added to' if present else 'removed from'} #{pr}.")
    return 0


@github.command("reviewed-plan")
@click.option("--sha", required=True, help="The merge commit a push to main brought.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Where to write the saved plan.",
)
@repo_option
def reviewed_plan(sha: str, out: Path, repo: str | None) -> int:
    """Download the saved plan the pull request merged as SHA was reviewed with."""
    with _client(repo) as gh:
        number, head = download_reviewed_plan(gh, sha, out)
    peek_plan(out)  # a saved plan of this format, or refused here rather than at apply
    click.echo(f"Saved the reviewed plan of #{number} (head {head[:12]}) to {out}.")
    return 0


@github.command("issue")
@click.option("--title", required=True, help="The issue title (one open issue per title).")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The issue body.",
)
@click.option("--label", "labels", multiple=True, help="Labels of a new issue.")
@repo_option
def issue(title: str, file: Path, labels: tuple[str, ...], repo: str | None) -> int:
    """Open one issue with this title, or update the open one."""
    body = _read_text(file)
    with _client(repo) as gh:
        number, created = upsert_issue(gh, title, body, list(labels))
    click.echo(f"{'Opened' if created else 'Updated'} issue #{number}.")
    return 0


@github.command("dispatch")
@click.option("--workflow", required=True, help="The workflow file name, e.g. apply.yml.")
@click.option("--ref", required=True, help="The branch to run it on.")
@click.option("--input", "inputs", multiple=True, help="NAME=VALUE (repeatable).")
@repo_option
def dispatch(workflow: str, ref: str, inputs: tuple[str, ...], repo: str | None) -> int:
    """Start a workflow run (e.g. apply again after --max-duration)."""
    values: dict[str, str] = {}
    for pair in inputs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ReconcilerError(f"--input {pair}: expected NAME=VALUE")
        values[key] = value
    with _client(repo) as gh:
        gh.request(
            "POST",
            gh.repo_path(f"actions/workflows/{workflow}/dispatches"),
            json={"ref": ref, "inputs": values},
        )
    click.echo(f"Started {workflow} on {ref}.")
    return 0


@github.command("outputs")
@click.argument("planfile", type=click.Path(path_type=Path, dir_okay=False))
def outputs(planfile: Path) -> int:
    """A saved plan's numbers as step outputs: has_changes, deletions, irreversible, held,
    summary (append to $GITHUB_OUTPUT)."""
    for key, value in plan_outputs(peek_plan(planfile)).items():
        click.echo(f"{key}={value}")
    return 0

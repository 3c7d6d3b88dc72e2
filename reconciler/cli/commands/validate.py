"""`reconcile validate [PATH...]`: schema and vendor checks of config and manifests.

With PATHs only those files are checked, but manifest names are still compared with
every file under specs/ (a name must be unique across specs/). `--format json` prints a
versioned document (schemas/validate.schema.json); `--format github` prints workflow
annotations, which GitHub shows on the pull request's lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.errors import Problem, ReconcilerError, ValidationFailed
from reconciler.inputs import InputRefused
from reconciler.manifests import load_specs
from reconciler.render.diagnostics import github_annotation, validate_json


def _config_problems(exc: ReconcilerError) -> list[Problem]:
    if isinstance(exc, ValidationFailed):
        return list(exc.problems)
    if isinstance(exc, InputRefused):
        return [Problem(exc.shown, exc.line, "", exc.reason)]
    return [Problem("", None, "", str(exc))]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="json: a versioned document; github: workflow annotations for pull requests.",
)
@pass_globals
def validate(g: Globals, paths: tuple[Path, ...], fmt: str) -> int:
    """Check reconciler.yaml and manifests (default: every file under specs/). No network."""
    summary: dict[str, int] | None = None
    notices: list[Problem] = []
    try:
        config = g.config()
    except ReconcilerError as exc:
        if fmt == "text":
            raise
        problems = _config_problems(exc)
    else:
        result = load_specs(config, paths, names_elsewhere=True)
        problems = result.problems
        notices = result.locked  # encrypted sources whose key is not available
        summary = {
            "manifests": len(result.manifests),
            "files": len(result.files),
            "items": len(result.desired),
            "targets": len(config.targets),
        }
    if fmt == "json":
        document = validate_json(problems, summary, notices)
        click.echo(json.dumps(document, indent=1, ensure_ascii=False))
        return 1 if problems else 0
    if fmt == "github":
        for problem in problems:
            click.echo(github_annotation(problem))
        for notice in notices:
            click.echo(github_annotation(notice, "notice"))
        if problems:
            click.echo(f"Error: {len(problems)} problem(s) found.", err=True)
            return 1
    elif problems:
        raise ValidationFailed(problems)
    else:
        for notice in notices:
            click.echo(f"Notice: {notice}", err=True)
    assert summary is not None
    click.echo(
        f"Success! {summary['manifests']} manifest(s) in {summary['files']} file(s) are valid: "
        f"{summary['items']} item(s) declared absent across {summary['targets']} target(s)."
        + (f" {len(notices)} encrypted source(s) not checked: key not available." * bool(notices))
    )
    return 0

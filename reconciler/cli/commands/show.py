"""`reconcile show PLANFILE`: render a saved plan (text, JSON or markdown) without re-planning."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import current_commit, ledger_key
from reconciler.errors import ReconcilerError
from reconciler.plan.planfile import is_format1, load_format1, load_plan
from reconciler.plan.planframe import sniff
from reconciler.plan.show import rebuild_plan
from reconciler.render.jsonplan import write_plan_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text


@click.command()
@click.argument("planfile", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json: the bytes plan --format json gave (schemas/plan.schema.json); markdown: "
    "the PR comment.",
)
@click.option("--full", is_flag=True, help="text: list every action of a long plan.")
@click.option("--compact", is_flag=True, help="text: one line per action (the default above 200).")
@click.option("--summary", "summary_only", is_flag=True, help="text: the counts only.")
@click.option("--commit", help="markdown: the commit the plan is of.")
@pass_globals
def show(
    g: Globals,
    planfile: Path,
    fmt: str,
    full: bool,
    compact: bool,
    summary_only: bool,
    commit: str | None,
) -> int:
    """Render a saved plan (reconcile plan --out FILE); its MAC is checked first."""
    if is_format1(sniff(planfile)):
        return _show_format1(planfile, fmt)
    config = g.config()
    key = ledger_key(config)
    saved = load_plan(planfile, key)
    shown = rebuild_plan(config, key, saved)
    for note in shown.notes:
        click.secho(f"Note: {note}", fg="yellow", err=True)
    plan = shown.plan
    if fmt == "json":
        write_plan_json(plan, False, [(sys.stdout, {})])
    elif fmt == "markdown":
        sha = commit or current_commit(str(config.root))
        click.echo("".join(render_markdown(plan, False, commit=sha)), nl=False)
    else:
        for warning in plan.warnings:
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
        click.echo(render_text(plan, False, full, compact, summary_only))
    return 0


def _show_format1(path: Path, fmt: str) -> int:
    """A format-1 plan (0.1.x) is its own JSON document: printed as it is (without `kind`)."""
    if fmt != "json":
        raise ReconcilerError(
            f"{path} is a format-1 saved plan (reconciler 0.1.x): only `--format json` shows "
            "it; make the plan again for the other formats"
        )
    data = load_format1(path)
    data.pop("kind", None)
    click.secho(
        f"Warning: {path} is a format-1 saved plan: unsigned, so nothing proves it was not "
        "edited; apply refuses it",
        fg="yellow",
        err=True,
    )
    click.echo(json.dumps(data, indent=1, ensure_ascii=False))
    return 0

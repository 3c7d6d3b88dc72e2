"""`reconcile plan`: desired state vs ledger. No network, no vendor credentials."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import ledger_key
from reconciler.plan.build import plan_from_config
from reconciler.plan.planfile import save_plan
from reconciler.render.jsonplan import write_plan_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

EXIT_CHANGES = 2


def color_flag(value: str) -> bool | None:
    return {"always": True, "never": False}.get(value)


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option("--show-values", is_flag=True, help="Show identifier values unmasked.")
@click.option("--full", is_flag=True, help="List every action of a long plan.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto")
@click.option(
    "--ignore-ledger-errors",
    is_flag=True,
    help="Plan even when the ledger does not verify (recovery only: what it records is "
    "then proven by nothing, and the plan says so).",
)
@pass_globals
def plan(
    g: Globals,
    fmt: str,
    out: Path | None,
    targets: tuple[str, ...],
    detailed_exitcode: bool,
    show_values: bool,
    full: bool,
    color: str,
    ignore_ledger_errors: bool,
) -> int:
    """Show what apply would remove, from specs/ and the ledger."""
    config = g.config()
    the_plan, _, _ = plan_from_config(
        config, ledger_key(config), targets, ignore_ledger_errors=ignore_ledger_errors
    )
    for warning in the_plan.warnings:
        click.secho(f"Warning: {warning}", fg="yellow", err=True, color=color_flag(color))
    if fmt == "json" and out is not None and not show_values:
        # the saved plan is masked too: both are written at once, each action encoded once
        save_plan(out, the_plan, also=sys.stdout)
    elif fmt == "json":
        if out is not None:
            save_plan(out, the_plan)
        write_plan_json(the_plan, show_values, [(sys.stdout, {})])
    else:
        if out is not None:
            save_plan(out, the_plan)
        if fmt == "markdown":
            click.echo(render_markdown(the_plan, show_values), nl=False)
        else:
            click.echo(render_text(the_plan, show_values, full), color=color_flag(color))
            if out is not None:
                click.echo(
                    f"\nSaved the plan to {out}. To perform exactly these actions, run:\n"
                    f"    reconcile apply {out}"
                )
    if detailed_exitcode and the_plan.summary.changes:
        return EXIT_CHANGES
    return 0

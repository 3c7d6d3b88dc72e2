"""`reconcile status`: open requests by due date: done, in progress, overdue."""

from __future__ import annotations

import datetime as dt
import json

import click

from reconciler.cli import exitcodes
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import ledger_key
from reconciler.manifests.deadlines import iso
from reconciler.plan.build import plan_from_config
from reconciler.plan.deadlines import manifest_deadlines
from reconciler.render.status import status_json, status_text


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for machines (a versioned document).",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 4 when a request is overdue or will miss its due date (a person must look).",
)
@pass_globals
def status(g: Globals, fmt: str, detailed_exitcode: bool) -> int:
    """Every request (manifest) by due date: done, in progress (accepted, awaiting
    confirmation), pending, needs a person, overdue. No network, no vendor credentials."""
    config = g.config()
    now = dt.datetime.now(dt.UTC)
    plan, loaded, ledger = plan_from_config(config, ledger_key(config), now=now)
    for warning in plan.warnings:
        if not warning.startswith("manifest "):  # the table says those
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
    rows, _ = manifest_deadlines(plan, loaded.manifests, ledger, now, only_dated=False)
    if fmt == "json":
        click.echo(json.dumps(status_json(rows, iso(now) or ""), indent=2))
    else:
        click.echo(status_text(rows))
    if detailed_exitcode and any(r.needs_person for r in rows):
        return exitcodes.NEEDS_PERSON
    return 0

"""`reconcile plan`: desired state vs ledger. No network, no vendor credentials."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli import exitcodes
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import current_commit, ledger_key, plan_stamp
from reconciler.errors import ReconcilerError
from reconciler.plan.build import plan_from_config
from reconciler.plan.keys import fingerprinter_for
from reconciler.plan.planfile import save_plan
from reconciler.plan.seal import UNSIGNED_WARNING, Seal
from reconciler.render.jsonplan import write_plan_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

PII_FLAG = "--i-know-this-posts-pii"


def refuse_unmasked_markdown(fmt: str, show_values: bool, allowed: bool) -> None:
    """Markdown is for pull-request comments and job summaries, which everyone who can
    read the repository sees and which stay in its history: raw values go there only
    when the user says they know."""
    if fmt == "markdown" and show_values and not allowed:
        raise ReconcilerError(
            "--show-values with --format markdown would put raw identifiers into a "
            "pull-request comment or job summary (readable by everyone with access to the "
            f"repository, and kept): refused. Add {PII_FLAG} if that is really meant"
        )


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json: a versioned document (schemas/plan.schema.json); markdown: the PR comment.",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes; 4 when a person must look: items held (reconcile "
    "ledger resolve) or a deadline missed or about to be.",
)
@click.option("--show-values", is_flag=True, help="Show identifier values unmasked.")
@click.option(
    PII_FLAG,
    "posts_pii",
    is_flag=True,
    help="Allow --show-values with --format markdown (raw values in a PR comment).",
)
@click.option(
    "--full",
    is_flag=True,
    help="List every action of a long plan (above 200 actions each target lists its first 100).",
)
@click.option(
    "--compact",
    is_flag=True,
    help="text: one line per action (the default above 200 actions).",
)
@click.option("--summary", "summary_only", is_flag=True, help="text: the counts only.")
@click.option(
    "--refresh",
    "refresh_before",
    is_flag=True,
    help="Read the vendors back first (reconcile refresh; needs their credentials).",
)
@click.option(
    "--commit",
    help="markdown: the commit the plan is of (default: $GITHUB_SHA, else git HEAD).",
)
@click.option(
    "--artifact",
    help="markdown: where the full saved plan is (e.g. the artifact's name), said when cut.",
)
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
    posts_pii: bool,
    full: bool,
    compact: bool,
    summary_only: bool,
    refresh_before: bool,
    commit: str | None,
    artifact: str | None,
    ignore_ledger_errors: bool,
) -> int:
    """Show what apply would remove, from specs/ and the ledger."""
    refuse_unmasked_markdown(fmt, show_values, posts_pii)
    config = g.config()
    if refresh_before:
        # imported here: refresh brings the HTTP client (httpx, asyncio), a third of a
        # second that a plan without --refresh never needs
        from reconciler.cli.commands.refresh import refresh_first

        refresh_first(config, ledger_key(config), targets)
    key = ledger_key(config)
    the_plan, _, ledger = plan_from_config(
        config, key, targets, ignore_ledger_errors=ignore_ledger_errors
    )
    seal = Seal(key)
    shown = list(the_plan.warnings)
    if out is not None and not seal.keyed:
        shown.append(UNSIGNED_WARNING)
    for warning in shown:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    if out is not None:
        fingerprint, _ = fingerprinter_for(ledger, key, the_plan.new_ledger_salt)
        names = [tp.target.name for tp in the_plan.targets]
        save_plan(out, the_plan, seal, plan_stamp(config, seal, names), fingerprint)
    if fmt == "json":
        write_plan_json(the_plan, show_values, [(sys.stdout, {})])
    elif fmt == "markdown":
        sha = commit or current_commit(str(config.root))
        bodies = render_markdown(the_plan, show_values, commit=sha, artifact=artifact)
        # each body starts with its marker: `reconcile github comment` splits on them
        click.echo("".join(bodies), nl=False)
    else:
        click.echo(render_text(the_plan, show_values, full, compact, summary_only))
        if out is not None:
            click.echo(
                f"\nSaved the plan to {out}. To perform exactly these actions, run:\n"
                f"    reconcile apply {out}"
            )
    if not detailed_exitcode:
        return exitcodes.OK
    # 4 before 2: a person must look (held items, a missed deadline) whatever else is
    # pending; the summary line and the JSON's counts say whether apply has work
    if the_plan.summary.held or the_plan.deadline_missed:
        return exitcodes.NEEDS_PERSON
    return exitcodes.CHANGES if the_plan.summary.changes else exitcodes.OK

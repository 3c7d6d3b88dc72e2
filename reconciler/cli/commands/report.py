"""`reconcile report`: proof-of-erasure documents, one per request or selection."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from reconciler.cli.commands.plan import PII_FLAG, refuse_unmasked_markdown
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import ledger_key
from reconciler.errors import ReconcilerError
from reconciler.manifests.deadlines import DateProblem, parse_moment
from reconciler.plan.build import plan_from_config
from reconciler.report.build import Selection, build_report
from reconciler.report.output import write_report
from reconciler.report.render import FORMS, render


@click.command()
@click.option("--manifest", "manifests", multiple=True, help="Only this request (repeatable).")
@click.option("--ticket", help="Only requests (manifests) with this ticket.")
@click.option("--since", help="Only requests made or acted on since this date (YYYY-MM-DD).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMS),
    default="markdown",
    show_default=True,
    help="markdown for a ticket, json to archive (the sealed data), html to print or hand over.",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write it here.")
@click.option(
    "--show-values",
    is_flag=True,
    help="Show identifier values unmasked (the document then says so, in red).",
)
@click.option(
    PII_FLAG,
    "posts_pii",
    is_flag=True,
    help="Allow --show-values with --format markdown (raw values pasted into a ticket).",
)
@pass_globals
def report(
    g: Globals,
    manifests: tuple[str, ...],
    ticket: str | None,
    since: str | None,
    fmt: str,
    out: Path | None,
    show_values: bool,
    posts_pii: bool,
) -> int:
    """Write a sealed proof-of-erasure document for auditors.

    What was asked, by whom and why, what each vendor answered and when, what is still
    open, and the ledger records that prove it (sealed; `reconcile ledger verify --report
    FILE` checks it offline). No network."""
    refuse_unmasked_markdown(fmt, show_values, posts_pii)
    try:
        start = parse_moment(since) if since is not None else None
    except DateProblem as exc:
        raise ReconcilerError(f"--since: {exc}") from None
    config = g.config()
    key = ledger_key(config)
    now = dt.datetime.now(dt.UTC)
    plan, loaded, ledger = plan_from_config(config, key, ignore_ledger_errors=True, now=now)
    if plan.ledger_errors:
        click.secho(
            f"Warning: the ledger does not verify ({plan.ledger_errors[0]}): the report says "
            "so, and proves nothing",
            fg="yellow",
            err=True,
        )
    if show_values:
        click.secho(
            "Warning: --show-values: the report holds raw identifier values (personal data)",
            fg="yellow",
            err=True,
        )
    try:
        document = build_report(
            config,
            plan,
            loaded,
            ledger,
            key,
            Selection(manifests, ticket, start),
            now,
            show_values,
        )
    except ValueError as exc:
        raise ReconcilerError(str(exc)) from None
    text = render(document, fmt)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_report(out, text)
        click.echo(
            f"Wrote {out}: {document['summary']['verdict']}. Verify it with: "
            f"reconcile ledger verify --report {out}",
            err=True,
        )
    return 0

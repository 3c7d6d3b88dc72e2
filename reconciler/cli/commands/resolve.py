"""`reconcile resolve --target T --from IN.csv --out OUT.csv`: read-only lookups into a
reviewable CSV (Segment email/segment_id -> user_id; Braze email/phone -> external_id)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import target_secrets
from reconciler.plan.build import check_targets
from reconciler.resolve import run_resolve


@click.command()
@click.option("--target", required=True, help="The target whose vendor to look up at.")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A CSV of rows naming subjects by what you hold (e.g. email,type,value).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the resolved rows (an absent_csv source); the rows that could not "
    "be resolved go beside it, in OUT.unresolved.csv, with the reason.",
)
@pass_globals
def resolve(g: Globals, target: str, source: Path, out: Path) -> int:
    """Look each row up at the vendor, read-only, and write what the delete API can use.

    Nothing is guessed: a row with no match or several goes to the unresolved file.
    Interrupted, it resumes where it stopped (the .partial files beside the outputs).
    Values are never printed.
    """
    config = g.config()
    check_targets(config, [target])
    secrets = target_secrets(config, [target])[target]
    report = run_resolve(config.targets[target], secrets, source, out)
    if report.resumed:
        click.echo(f"Resumed after {report.resumed} row(s) done by an earlier run.", err=True)
    for reason, count in report.reasons.most_common(10):
        click.echo(f"  unresolved ({count}): {reason}", err=True)
    if report.stopped:
        click.secho(
            f"Stopped: {report.stopped}. What was resolved is kept; run the same command "
            "again to continue.",
            fg="red",
            err=True,
        )
        return 1
    click.echo(
        f"Resolved {report.resolved} row(s) into {report.out}; {report.unresolved} "
        f"unresolved in {report.unresolved_out}. Review them, then name {report.out} in a "
        "manifest's absent_csv."
    )
    return 0

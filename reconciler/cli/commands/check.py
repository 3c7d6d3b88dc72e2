"""`reconcile check [--target NAME]`: prove each target can be sent to, deleting nothing."""

from __future__ import annotations

import click

from reconciler.apply.check import check_targets
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import target_secrets
from reconciler.plan.build import check_targets as known_targets


@click.command()
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@pass_globals
def check(g: Globals, targets: tuple[str, ...]) -> int:
    """One harmless read per target proving host, account, credentials and permission.

    The same reads apply sends before a target's first deletion. Exit 1 when any fails.
    """
    config = g.config()
    known_targets(config, targets)
    names = list(targets) or sorted(config.targets)
    secrets = target_secrets(config, names)
    results = check_targets([config.targets[n] for n in names], secrets)
    rows = [("TARGET", "VENDOR", "HOST", "RESULT", "WHAT TO FIX")]
    for r in results:
        rows.append(
            (r.target, r.vendor, r.host, "ok" if r.ok else f"FAILED: {r.problem}", r.fix or "")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        click.echo("  ".join([*cells, row[4]]).rstrip())
    failed = [r for r in results if not r.ok]
    if failed:
        click.echo(f"\n{len(failed)} of {len(results)} target(s) failed the check.", err=True)
        return 1
    click.echo(f"\nAll {len(results)} target(s) passed: host, account and credentials proven.")
    return 0

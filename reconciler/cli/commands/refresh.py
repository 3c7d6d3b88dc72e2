"""`reconcile refresh`: read the vendors back; confirm what was queued, catch what came back."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from reconciler.apply.run import RunInfo
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import current_commit, ledger_key, target_secrets, who
from reconciler.cli.params import AGE, LOCK_TIMEOUT
from reconciler.cli.progress import ProgressDisplay
from reconciler.cli.signals import StopRequest
from reconciler.config import Config
from reconciler.plan.build import plan_from_config
from reconciler.refresh.engine import RefreshReport
from reconciler.refresh.run import RefreshRequest, choose, run_refresh
from reconciler.refresh.select import DEFAULT_STATES, READABLE, Selection

EXIT_DRIFT = 2
FORMAT_VERSION = "1"


def _states(value: str) -> tuple[str, ...]:
    states = tuple(s.strip() for s in value.split(",") if s.strip())
    for state in states:
        if state not in READABLE:
            raise click.BadParameter(
                f"{state!r}: refresh reads items that were sent ({', '.join(READABLE)})",
                param_hint="--state",
            )
    return states


@click.command()
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option(
    "--state",
    "state_list",
    default=",".join(DEFAULT_STATES),
    show_default=True,
    help=f"Which items to read, by ledger state (any of {', '.join(READABLE)}).",
)
@click.option(
    "--sample", type=click.IntRange(min=1), help="Read at most N items, chosen at random."
)
@click.option("--seed", type=int, hidden=True, help="Make --sample repeatable.")
@click.option(
    "--min-age",
    type=AGE,
    default="5m",
    show_default=True,
    help="Skip items recorded or read less than this long ago (vendors apply queued "
    "deletions late; an interrupted refresh run again goes on where it stopped).",
)
@click.option(
    "--queue-window",
    type=AGE,
    default="1h",
    show_default=True,
    help="An item accepted less than this long ago and read present is still in the "
    "vendor's queue, not back again.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when drift was found.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
    show_default=True, help="text for people, json for machines, markdown for an issue.",
)  # fmt: skip
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Reads in flight at once (each vendor's rate limit still paces them).",
)
@LOCK_TIMEOUT
@pass_globals
def refresh(
    g: Globals,
    targets: tuple[str, ...],
    state_list: str,
    sample: int | None,
    seed: int | None,
    min_age: float,
    queue_window: float,
    detailed_exitcode: bool,
    fmt: str,
    parallelism: int,
    lock_timeout: float,
) -> int:
    """Read the vendors back and record what is really there.

    Accepted items confirmed gone become done (confirmed); items found back become
    drifted, and the next plan lists them again; an answer that proves nothing never
    changes a state (counted as unverified).
    """
    states = _states(state_list)
    config = g.config()
    key = ledger_key(config)
    plan, _, ledger = plan_from_config(config, key, targets)
    request = RefreshRequest(
        states, timedelta(seconds=min_age), sample, seed, timedelta(seconds=queue_window)
    )
    selection = choose(plan, ledger, request)
    if not selection.count:
        _print(fmt, RefreshReport(), selection, None)
        return 0
    secrets = target_secrets(config, selection.pairs)
    progress = ProgressDisplay(failed_label="unverified")
    with StopRequest("reads") as stop, progress.closing():
        report, run_id = run_refresh(
            config,
            plan,
            selection,
            secrets,
            RunInfo(who(), current_commit(str(config.root))),
            key,
            parallelism,
            progress,
            should_stop=stop,
            lock_timeout=lock_timeout,
            finishing=stop.finishing,
        )
    _print(fmt, report, selection, run_id)
    if stop():
        click.echo(
            f"Interrupted ({stop.name}): what was read is recorded; run refresh again to "
            "read the rest.",
            err=True,
        )
        return stop.exit_code
    if report.stopped or report.cannot_read:
        return 1
    if detailed_exitcode and report.total().drifted:
        return EXIT_DRIFT
    return 0


def summary_line(report: RefreshReport, selection: Selection) -> str:
    t = report.total()
    return (
        f"Refresh complete! Items: {t.confirmed} confirmed gone, {t.still_absent} still gone, "
        f"{t.drifted} back again (drifted), {t.queued} still queued, {t.unverified} unverified, "
        f"{selection.too_recent} too recent to read."
    )


def _print(fmt: str, report: RefreshReport, selection: Selection, run_id: str | None) -> None:
    if fmt == "json":
        document = {
            "format_version": FORMAT_VERSION,
            "run": run_id,
            "summary": {**vars(report.total()), "too_recent": selection.too_recent},
            "targets": {name: vars(c) for name, c in sorted(report.by_target.items())},
            "stopped": report.stopped,
            "cannot_read": report.cannot_read,
            "unverified_because": report.unverified_notes,
            "line": summary_line(report, selection),
        }
        click.echo(json.dumps(document, indent=2))
        return
    if fmt == "markdown":
        click.echo("### reconcile refresh\n")
        click.echo(f"**{summary_line(report, selection)}**\n")
        click.echo("| target | confirmed gone | still gone | back again | unverified |")
        click.echo("|---|---:|---:|---:|---:|")
        for name, c in sorted(report.by_target.items()):
            click.echo(
                f"| `{name}` | {c.confirmed} | {c.still_absent} | {c.drifted} | {c.unverified} |"
            )
        for name, why in sorted(report.stopped.items()):
            click.echo(f"\n> ⚠️ `{name}` stopped: {why}")
        return
    for name, why in sorted(report.stopped.items()):
        click.secho(f"Stopped reading {name}: {why}", fg="red", err=True)
    for name in report.cannot_read:
        click.echo(f"{name}: its vendor cannot read items back: nothing was read.", err=True)
    for name, c in sorted(report.by_target.items()):
        click.echo(
            f"{name}: {c.confirmed} confirmed gone, {c.still_absent} still gone, "
            f"{c.drifted} back again, {c.queued} still queued, {c.unverified} unverified"
            + (f", {c.not_read} not read" if c.not_read else "")
        )
    for why, count in sorted(report.unverified_notes.items(), key=lambda kv: -kv[1])[:10]:
        click.echo(f"  unverified ({count}): {why}", err=True)
    if selection.unsampled:
        click.echo(f"{selection.unsampled} item(s) left out by --sample.", err=True)
    if report.total().drifted:
        click.secho(
            "Items were found back after their removal (an event replay, a re-import, a "
            "trait promoted again): `reconcile plan` lists them to remove again.",
            fg="yellow",
        )
    click.echo(f"\n{summary_line(report, selection)}" + (f" (run {run_id})" if run_id else ""))


def refresh_first(config: Config, key: bytes | None, targets: tuple[str, ...]) -> None:
    """`plan --refresh` / `apply --refresh`: a default refresh first (items accepted or
    done, recorded at least 5 minutes ago), its summary on stderr; then the caller
    plans from the ledger it updated."""
    plan, _, ledger = plan_from_config(config, key, targets)
    selection = choose(plan, ledger, RefreshRequest(DEFAULT_STATES))
    if not selection.count:
        click.echo(
            f"Refresh: nothing to read. {summary_line(RefreshReport(), selection)}", err=True
        )
        return
    secrets = target_secrets(config, selection.pairs)
    report, run_id = run_refresh(
        config, plan, selection, secrets, RunInfo(who(), current_commit(str(config.root))), key
    )
    for name, why in sorted(report.stopped.items()):
        click.secho(f"Stopped reading {name}: {why}", fg="red", err=True)
    click.echo(f"{summary_line(report, selection)} (run {run_id})", err=True)

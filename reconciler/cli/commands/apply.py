"""`reconcile apply [PLANFILE | --reviewed PLANFILE]`: send the pending deletions and record
every result.

Exit codes: 0 everything sent was answered; 1 an error, any item failed, rejected or left
unknown, or (with --reviewed) any pending action the reviewed plan did not show; 2 only
with --max-duration: the time ran out, nothing went wrong, and items are still pending
(run apply again to continue: nothing is sent twice); 4 nothing went wrong but items are
held for a person (their resend is unsafe: reconcile ledger resolve settles them).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.apply.deadline import Deadline
from reconciler.apply.reviewed import check_reviewed, split_sends
from reconciler.apply.run import (
    RunInfo,
    check_max_deletions,
    plan_sends,
    refuse_lost_head,
    run_apply,
    send_targets,
)
from reconciler.cli import exitcodes
from reconciler.cli.applyoutput import FORMAT_OPTION, machine_output, record_outcome
from reconciler.cli.commands.refresh import refresh_first
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import (
    credential_stamps,
    current_commit,
    ledger_key,
    target_secrets,
    who,
)
from reconciler.cli.params import DURATION, LOCK_TIMEOUT
from reconciler.cli.progress import ProgressDisplay
from reconciler.cli.signals import StopRequest
from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.store import Ledger
from reconciler.plan.build import plan_from_config
from reconciler.plan.describe import describe
from reconciler.plan.keys import fingerprinter_for
from reconciler.plan.model import Action, Plan
from reconciler.plan.planfile import PlanKeyMismatch, SavedPlan, load_plan, stale_reason
from reconciler.plan.savedjoin import same_sends
from reconciler.plan.seal import credential_change
from reconciler.render.text import render_text

MAX_PROBLEM_LINES = 20  # per-item failure lines; the ledger lists the rest

PROMPT = "Do you want to perform these actions? Only 'yes' will be accepted"


def _stale(reason: str) -> ReconcilerError:
    return ReconcilerError(
        f"Saved plan is stale: {reason}. Nothing was sent.\n"
        "Make a new plan with `reconcile plan --out FILE` and review it."
    )


def _from_saved(
    config: Config, key: bytes | None, path: Path, targets: tuple[str, ...], ignore: bool = False
) -> tuple[Plan, Sequence[Action], Ledger]:
    saved = load_plan(path, key)
    saved_targets = saved.target_filter
    if targets and sorted(targets) != sorted(saved_targets):
        raise ReconcilerError(
            f"{path} was planned for targets {saved_targets or 'all'}: --target cannot change that"
        )
    plan, _, ledger = plan_from_config(
        config, key, saved_targets, saved.new_ledger_salt, ignore_ledger_errors=ignore
    )
    seal = saved.seal
    names = [tp.target.name for tp in plan.targets]
    reason = _credential_reason(saved, credential_stamps(config, seal, names))
    reason = reason or stale_reason(
        saved, ledger, plan.desired_digest, plan.accounts, (plan.fingerprint_scheme, plan.key_id)
    )
    if reason is None and saved.header["config_digest"] != seal.config_digest(config):
        reason = (
            "reconciler.yaml is not the one the plan was made with (another project, or the "
            "config changed since)"
        )
    if reason is not None:
        raise _stale(reason)
    # the plan made now is the saved one, item by item (streamed from the file)
    return plan, same_sends(saved, plan), ledger


def _credential_reason(saved: SavedPlan, now: dict[str, dict[str, Any]]) -> str | None:
    for name, stamp in saved.header["credentials"].items():
        if name in now:
            why = credential_change(name, stamp, now[name])
            if why is not None:
                return why
    return None


def _from_reviewed(
    config: Config, key: bytes | None, path: Path, targets: tuple[str, ...], ignore: bool = False
) -> tuple[Plan, Sequence[Action], Sequence[Action], int, Ledger]:
    """(fresh plan, sends, unreviewed pending actions, reviewed actions settled since,
    ledger) for `apply --reviewed`."""
    try:
        saved = load_plan(path, key)
    except PlanKeyMismatch as exc:
        raise ReconcilerError(
            f"{path} cannot be applied here: {exc.reason}. Nothing was sent."
        ) from exc
    saved_targets = saved.target_filter
    if targets and saved_targets and not set(targets) <= set(saved_targets):
        raise ReconcilerError(
            f"{path} was reviewed for targets {saved_targets}: --target cannot add others"
        )
    plan, _, ledger = plan_from_config(
        config,
        key,
        list(targets) or saved_targets,
        saved.new_ledger_salt,
        ignore_ledger_errors=ignore,
    )
    seal = saved.seal
    names = [tp.target.name for tp in plan.targets]
    check_reviewed(
        saved,
        ledger,
        plan,
        str(path),
        seal.config_digest(config),
        credential_stamps(config, seal, names),
    )
    # the ledger the plan was reviewed at must still be there (records cut since: refused)
    refuse_lost_head(ledger, saved.ledger_head)
    split = split_sends(plan, saved)
    return plan, split.sends, split.unreviewed, split.settled, ledger


def _list_unreviewed(unreviewed: Sequence[Action]) -> None:
    click.secho(
        f"Not sent: {len(unreviewed)} pending action(s) that the reviewed plan did not show "
        "(a manifest changed after review, or another change was merged in between):",
        fg="red",
        err=True,
    )
    for action in unreviewed:
        src = action.sources[0]
        click.echo(
            f"  {action.target}: {describe(action.item)}  # {src.manifest}, {src.file}:{src.line}",
            err=True,
        )
    click.echo("Review them in a pull request (its plan), then apply that reviewed plan.", err=True)


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--reviewed",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Re-plan, and send only what is pending now AND shown in this reviewed saved plan.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask before sending.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option("--max-deletions", type=click.IntRange(min=0), help="Refuse larger plans.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Requests in flight at once (each vendor's rate limit still paces them).",
)
@click.option(
    "--refresh",
    "refresh_before",
    is_flag=True,
    help="Read the vendors back first (reconcile refresh), then plan what to send.",
)
@click.option(
    "--max-duration",
    type=DURATION,
    help="Stop cleanly between requests after this long (e.g. 5h30m, 90s); exit 2 if items "
    "remain pending, so the next run continues.",
)
@LOCK_TIMEOUT
@click.option("--full", is_flag=True, help="List every action of a long plan before asking.")
@click.option(
    "--show-values", is_flag=True, help="Show identifier values unmasked in the plan shown."
)
@click.option(
    "--ignore-ledger-errors",
    is_flag=True,
    help="Send even when the ledger does not verify (recovery only: items it records as "
    "removed are then skipped on the word of records nothing proves).",
)
@FORMAT_OPTION
@pass_globals
@machine_output
def apply(
    g: Globals,
    planfile: Path | None,
    reviewed: Path | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    max_deletions: int | None,
    parallelism: int,
    refresh_before: bool,
    max_duration: float | None,
    lock_timeout: float,
    full: bool,
    show_values: bool,
    ignore_ledger_errors: bool,
) -> int:
    """Send the pending deletions (of PLANFILE, of a reviewed plan, or of a fresh plan after
    asking)."""
    config = g.config()
    key = ledger_key(config)
    if refresh_before:
        if planfile is not None:
            raise ReconcilerError(
                "--refresh with a saved plan would make it stale: refresh before planning"
            )
        refresh_first(config, key, targets)
    limit = max_deletions if max_deletions is not None else config.max_deletions
    unreviewed: Sequence[Action] = []
    sends: Sequence[Action]
    if planfile is not None and reviewed is not None:
        raise ReconcilerError("give a PLANFILE or --reviewed PLANFILE, not both")
    if reviewed is not None:
        the_plan, sends, unreviewed, settled, ledger = _from_reviewed(
            config, key, reviewed, targets, ignore_ledger_errors
        )
        if settled:
            click.echo(f"{settled} reviewed action(s) were already sent by an earlier run.")
        if unreviewed:
            _list_unreviewed(unreviewed)
        if not sends and unreviewed:
            click.echo("Nothing was sent.", err=True)
            return 1
    elif planfile is not None:
        the_plan, sends, ledger = _from_saved(config, key, planfile, targets, ignore_ledger_errors)
        if the_plan.ledger_errors:
            click.secho(f"Warning: {the_plan.warnings[0]}", fg="yellow", err=True)
    else:
        the_plan, _, ledger = plan_from_config(
            config, key, targets, ignore_ledger_errors=ignore_ledger_errors
        )
        sends = plan_sends(the_plan)
        for warning in the_plan.warnings:
            click.secho(f"Warning: {warning}", fg="yellow", err=True)
        click.echo(render_text(the_plan, show_values, full))
    record_outcome(the_plan, sends)
    if not sends:
        # a fresh plan was printed and said "No changes." already: said once
        shown = planfile is None and reviewed is None
        click.echo("Nothing to send." if shown else "No changes. Nothing to send.")
        return _held_exit(the_plan.summary.held)
    # Refusals that no answer would change come before the question.
    check_max_deletions(sends, limit)
    secrets = target_secrets(config, set(send_targets(sends)))
    if planfile is None and reviewed is None and not auto_approve:
        if not sys.stdin.isatty():
            raise ReconcilerError(
                "standard input is not a terminal, so nobody can approve: run with "
                "--auto-approve, or apply a reviewed saved plan (reconcile apply FILE)"
            )
        try:
            answer = click.prompt(f"\n{PROMPT}", default="", show_default=False)
        except click.Abort:  # Ctrl-C or end of input at the prompt
            answer = ""
        if answer != "yes":
            raise ReconcilerError("Apply cancelled. Nothing was sent.")
    # the ledger as planned: run_apply re-reads it under the lock and refuses if it moved
    fingerprint, _ = fingerprinter_for(ledger, key, the_plan.new_ledger_salt)
    deadline = Deadline(max_duration) if max_duration is not None else None
    progress = ProgressDisplay()
    with StopRequest() as stop, progress.closing():
        report, run_id = run_apply(
            config,
            the_plan,
            sends,
            fingerprint,
            secrets,
            RunInfo(who(), current_commit(str(config.root))),
            parallelism,
            progress,
            should_stop=lambda: stop() or (deadline is not None and deadline()),
            ignore_ledger_errors=ignore_ledger_errors,
            lock_timeout=lock_timeout,
            finishing=stop.finishing,
            interrupted=stop,
        )
    record_outcome(the_plan, sends, report, run_id)
    for name, why in report.stopped.items():
        click.secho(f"Stopped sending to {name}: {why}", fg="red", err=True)
    for problem in report.problems[:MAX_PROBLEM_LINES]:
        code = (
            f"HTTP {problem.code}"
            if problem.code
            else "not sent"
            if problem.state == "not sent"
            else "no answer"
        )
        click.echo(
            f"{problem.state}: {problem.target}: {problem.description}: {code}: "
            f"{problem.message or ''}".rstrip(": "),
            err=True,
        )
    if len(report.problems) > MAX_PROBLEM_LINES:
        click.echo(
            f"... and {len(report.problems) - MAX_PROBLEM_LINES} more: reconcile ledger list "
            "--state failed (and --state rejected, --state unknown) lists every one.",
            err=True,
        )
    if report.unknown:
        click.echo(
            f"{report.unknown} item(s) left unknown: the vendor may have acted and sending "
            "again could remove something else; the next plan holds them for review.",
            err=True,
        )
    if report.held_back:
        click.echo(
            f"{report.held_back} deletion(s) kept back: an earlier deletion about the same "
            "subject did not succeed (an identifier that locates a user whose attribute "
            "removals failed); they stay pending.",
            err=True,
        )
    if report.not_sent:
        click.echo(f"{report.not_sent} item(s) not sent: they stay pending.", err=True)
    for warning in report.warnings():
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    for name, rate in sorted(report.rates.items()):
        if rate.effective is not None:
            throttled = f", {rate.throttled} answered 429" if rate.throttled else ""
            click.echo(
                f"{name}: {rate.effective:.1f} requests/s (limit {rate.limit:.1f}/s){throttled}",
                err=True,
            )
    click.echo(f"\n{report.line()} (run {run_id})")
    if stop():
        sent = len(sends) - report.not_sent
        click.echo(
            f"Interrupted ({stop.name}): {sent:,} of {len(sends):,} sent; the rest stay "
            "pending. Run apply again to continue; nothing is sent twice."
        )
        return stop.exit_code
    if unreviewed:
        click.echo(f"{len(unreviewed)} pending action(s) not reviewed were not sent.", err=True)
        return 1
    if deadline is not None and deadline.reached:
        click.echo(
            f"Stopped after --max-duration ({_seconds(deadline.seconds)}): the rest stays "
            "pending. Run apply again to continue; nothing is sent twice."
        )
        if report.errors:
            return exitcodes.ERROR
        # 4 wins over 2, as in plan: items pending is the expected state of a stopped run,
        # items held or a missed due date are not, and a wrapper that loops on 2 must see it
        if report.held or the_plan.deadline_missed:
            _held_exit(report.held)
            for row in the_plan.deadlines:
                if row.needs_person:
                    click.echo(f"manifest {row.manifest.name}: {row.verdict()}", err=True)
            return exitcodes.NEEDS_PERSON
        return exitcodes.CHANGES
    if not report.ok:
        return exitcodes.ERROR
    return _held_exit(report.held)


def _held_exit(held: int) -> int:
    """Exit 4 when items are held for a person: apply did all it may, yet it is not done."""
    if not held:
        return exitcodes.OK
    click.echo(
        f"{held} item(s) held for a person, not sent: resending could remove something "
        "else. Check each at the vendor, then record it: reconcile ledger list --state "
        "unknown; reconcile ledger resolve FINGERPRINT --as done|absent|pending --reason ...",
        err=True,
    )
    return exitcodes.NEEDS_PERSON


def _seconds(total: float) -> str:
    hours, rest = divmod(int(total), 3600)
    minutes, seconds = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n)

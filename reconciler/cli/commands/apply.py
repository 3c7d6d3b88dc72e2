"""`reconcile apply [PLANFILE]`: send the pending deletions and record every result."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.apply.run import RunInfo, check_max_deletions, plan_sends, run_apply
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import current_commit, ledger_key, secret, who
from reconciler.cli.progress import ProgressDisplay
from reconciler.config import SECRET_KEYS, Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.store import Ledger
from reconciler.plan.build import plan_from_config
from reconciler.plan.keys import fingerprinter_for
from reconciler.plan.model import Action, Plan
from reconciler.plan.planfile import load_plan, stale_reason
from reconciler.render.text import render_text

# the actions of a saved plan that apply may send (never "hold" or "none")
SENT_ACTIONS = frozenset({"remove", "resend", "retry"})

PROMPT = "Do you want to perform these actions? Only 'yes' will be accepted"


def _secrets(config: Config, sends: list[Action]) -> dict[str, dict[str, str]]:
    """Every secret the sends need, read before anything is sent."""
    out: dict[str, dict[str, str]] = {}
    for name in sorted({a.target for a in sends}):
        target = config.targets[name]
        out[name] = {key: secret(target.settings[key]) for key in SECRET_KEYS[target.vendor]}
    return out


def _from_saved(
    config: Config, key: bytes | None, path: Path, targets: tuple[str, ...], ignore: bool = False
) -> tuple[Plan, list[Action], Ledger]:
    saved = load_plan(path)
    saved_targets = list(saved["target_filter"])
    if targets and sorted(targets) != sorted(saved_targets):
        raise ReconcilerError(
            f"{path} was planned for targets {saved_targets or 'all'}: --target cannot change that"
        )
    salt = saved["fingerprint"].get("new_ledger_salt")
    plan, _, ledger = plan_from_config(
        config, key, saved_targets, salt, ignore_ledger_errors=ignore
    )
    reason = stale_reason(
        saved, ledger, plan.desired_digest, plan.accounts, (plan.fingerprint_scheme, plan.key_id)
    )
    if reason is not None:
        raise ReconcilerError(
            f"Saved plan is stale: {reason}. Nothing was sent.\n"
            "Make a new plan with `reconcile plan --out FILE` and review it."
        )
    allowed = {a["fingerprint"] for a in saved["actions"] if a["action"] in SENT_ACTIONS}
    return plan, plan_sends(plan, allowed), ledger


@click.command()
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask before sending.")
@click.option("--target", "targets", multiple=True, help="Only this target (repeatable).")
@click.option("--max-deletions", type=click.IntRange(min=0), help="Refuse larger plans.")
@click.option("--parallelism", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option(
    "--ignore-ledger-errors",
    is_flag=True,
    help="Send even when the ledger does not verify (recovery only: items it records as "
    "removed are then skipped on the word of records nothing proves).",
)
@pass_globals
def apply(
    g: Globals,
    planfile: Path | None,
    auto_approve: bool,
    targets: tuple[str, ...],
    max_deletions: int | None,
    parallelism: int,
    ignore_ledger_errors: bool,
) -> int:
    """Send the pending deletions (of PLANFILE, or of a fresh plan after asking)."""
    config = g.config()
    key = ledger_key(config)
    limit = max_deletions if max_deletions is not None else config.max_deletions
    if planfile is not None:
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
        click.echo(render_text(the_plan))
    if not sends:
        click.echo("No changes. Nothing to send.")
        return 0
    # Refusals that no answer would change come before the question.
    check_max_deletions(sends, limit)
    secrets = _secrets(config, sends)
    if planfile is None and not auto_approve:
        if not sys.stdin.isatty():
            raise ReconcilerError(
                "standard input is not a terminal, so nobody can approve: run with "
                "--auto-approve, or apply a reviewed saved plan (reconcile apply FILE)"
            )
        answer = click.prompt(f"\n{PROMPT}", default="", show_default=False)
        if answer != "yes":
            raise ReconcilerError("Apply cancelled. Nothing was sent.")
    # the ledger as planned: run_apply re-reads it under the lock and refuses if it moved
    fingerprint, _ = fingerprinter_for(ledger, key, the_plan.new_ledger_salt)
    report, run_id = run_apply(
        config,
        the_plan,
        sends,
        fingerprint,
        secrets,
        RunInfo(who(), current_commit(str(config.root))),
        parallelism,
        ProgressDisplay(),
        ignore_ledger_errors=ignore_ledger_errors,
    )
    for name, why in report.stopped.items():
        click.secho(f"Stopped sending to {name}: {why}", fg="red", err=True)
    for problem in report.problems:
        code = f"HTTP {problem.code}" if problem.code else "no answer"
        click.echo(
            f"{problem.state}: {problem.target}: {problem.description}: {code}: "
            f"{problem.message or ''}".rstrip(": "),
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
            f"{report.held_back} Insider identifier deletion(s) kept back: they locate users "
            "whose attribute removals did not succeed; they stay pending.",
            err=True,
        )
    if report.not_sent:
        click.echo(f"{report.not_sent} item(s) not sent: they stay pending.", err=True)
    click.echo(f"\n{report.line()} (run {run_id})")
    return 0 if report.ok else 1

"""`reconcile ledger list|show|verify|unlock|find|resolve`: read, check and settle the
ledger (the PostgreSQL backend's leases, sql, export and import: commands/leases.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from reconciler.cli.commands.leases import COMMANDS as PG_COMMANDS
from reconciler.cli.commands.leases import unlock_lease
from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import current_commit, ledger_key, person, who
from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, open_storage, shared, where
from reconciler.ledger.decisions import Decision, checked_reason, match_items, record_decision
from reconciler.ledger.gitcheck import history_problems
from reconciler.ledger.lock import check_breakable, read_lock
from reconciler.ledger.lookup import item_by_prefix, item_from_args, items_with_value
from reconciler.ledger.records import FP_CHARS, RESOLUTIONS, STATES
from reconciler.ledger.storage import Storage
from reconciler.ledger.store import Ledger, read_ledger
from reconciler.ledger.unlock import break_lock
from reconciler.ledger.verify import history, ledger_problems, verify_ledger
from reconciler.manifests import load_specs
from reconciler.plan.build import check_targets
from reconciler.plan.keys import fingerprinter_for
from reconciler.render.describe import describe


@click.group()
def ledger() -> None:
    """Read and check the state ledger."""


UNKEYED_NOTE = (
    "Note: the ledger has no key (ledger.key_env): its hash chain finds accidents (a bad "
    "merge, a cut copy, a careless edit), not forgery: anyone who can write to it can "
    "recompute the chain."
)


@ledger.command("verify")
@click.option(
    "--history",
    "check_history",
    is_flag=True,
    help="Also report commits in git history that removed or rewrote ledger lines.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Check a `reconcile report` file (JSON, markdown or HTML) against the ledger.",
)
@pass_globals
def verify(g: Globals, check_history: bool, report_file: Path | None) -> int:
    """Check every record (chain, MACs with a key), and the ledger against what git
    committed; exit 1 when anything does not hold. With --report: a report's seal, its
    text, and that every record it cites is in the chain, unchanged."""
    config = g.config()
    if report_file is not None:
        storage = open_storage(config)
        try:
            return _verify_report(report_file, config.ledger_dir, ledger_key(config), storage)
        finally:
            close_storage(storage)
    storage = open_storage(config)
    report = verify_ledger(config.ledger_dir, ledger_key(config), storage)
    close_storage(storage)
    git = git_report(config)
    for warning in report.warnings:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    if report.conflicts:
        click.secho(
            f"Warning: {report.conflicts} item(s) have conflicting outcomes in runs of merged "
            "branches: plan holds them for a person (reconcile ledger show FINGERPRINT)",
            fg="yellow",
            err=True,
        )
    if git.note:
        click.echo(f"Note: {git.note}.", err=True)
    name = where(config) if shared(config) else config.ledger_dir.name
    breaks = [f"{name}/{p}" for p in report.breaks]
    breaks += [f"{name}/{p}" for p in git.breaks]
    if check_history and shared(config):
        click.echo("Note: a PostgreSQL ledger has no git history to check.", err=True)
    elif check_history:
        past = history_problems(config.root, config.ledger_dir)
        if past.note:
            click.echo(f"Note: {past.note}.", err=True)
        breaks += [f"history: {p}" for p in past.breaks]
    if report.records and not report.keyed:
        click.echo(UNKEYED_NOTE, err=True)
    if breaks:
        for problem in breaks:
            click.echo(problem, err=True)
        click.echo("Error: the ledger does not verify.", err=True)
        return 1
    keyed = " (every record's MAC checked)" if report.keyed and report.records > 1 else ""
    click.echo(
        f"The ledger verifies: {report.records} record(s) in {report.files} "
        f"{'part(s) in PostgreSQL' if shared(config) else 'run file(s)'}"
        f"{keyed}. Head: {','.join(report.heads) or '-'}"
    )
    return 0


def _verify_report(
    path: Path, ledger_dir: Path, key: bytes | None, storage: Storage | None = None
) -> int:
    from reconciler.report.verify import ReportUnreadable, check_report

    try:
        check = check_report(path, ledger_dir, key, storage)
    except ReportUnreadable as exc:
        raise ReconcilerError(str(exc)) from None
    if not check.ok:
        for problem in check.problems:
            click.echo(f"{path}: {problem}", err=True)
        click.echo(f"Error: the report {path} does not verify.", err=True)
        return 1
    seal = check.document["seal"]["algorithm"]
    click.echo(
        f"The report verifies: {path} ({check.form}) is sealed ({seal}) and unchanged; its "
        f"{check.cited} cited record(s) are in the ledger's chain, unchanged, and say what "
        f"it says. Verdict: {check.document['summary']['verdict']}"
    )
    return 0


@ledger.command("list")
@click.option("--target", "targets", multiple=True, help="Only these targets.")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES), help="Only these.")
@click.option("--manifest", "manifests", multiple=True, help="Only items of these manifests.")
@click.option("--show-values", is_flag=True)
@pass_globals
def list_items(
    g: Globals,
    targets: tuple[str, ...],
    states: tuple[str, ...],
    manifests: tuple[str, ...],
    show_values: bool,
) -> int:
    """Every item declared or recorded, with its state."""
    config = g.config()
    check_targets(config, targets)
    key = ledger_key(config)
    led = _read(config, key)
    loaded = load_specs(config)
    loaded.require_values("ledger list")
    fingerprint, _ = fingerprinter_for(led, key)
    rows: list[tuple[str, str, str, str, str, str]] = []
    seen: set[str] = set()
    for d in loaded.desired:
        fp = fingerprint(d.item)
        seen.add(fp[:FP_CHARS])
        status = led.items.get(fp)
        names = sorted({s.manifest for s in d.sources})
        rows.append(
            (
                fp,
                status.state if status else "pending",
                d.item.target,
                status.ts if status else "-",
                ",".join(names),
                describe(d.item, show_values),
            )
        )
    for fp, status in led.items.items():
        if fp not in seen:
            rows.append(
                (fp, status.state, status.target, status.ts, "-", "(orphaned: no manifest)")
            )
    shown = 0
    for fp, state, target, ts, names, text in rows:
        if targets and target not in targets:
            continue
        if states and state not in states:
            continue
        if manifests and not set(names.split(",")) & set(manifests):
            continue
        click.echo(f"{fp[:16]}  {state:<8}  {target:<18}  {ts:<27}  {names}  {text}")
        shown += 1
    click.echo(f"{shown} item(s).", err=True)
    return 0


@ledger.command("show")
@click.argument("fingerprint")
@pass_globals
def show(g: Globals, fingerprint: str) -> int:
    """The history of one item (a fingerprint, or a unique prefix of one)."""
    config = g.config()
    led = _read(config, ledger_key(config))
    fp, status = item_by_prefix(led, fingerprint)
    click.echo(f"Item {fp}\n  target: {status.target}\n  state:  {status.state}")
    if status.evidence:
        click.echo(f"  evidence: {status.evidence}")
    if status.conflict:
        click.echo(f"  held: {status.conflict}")
    for rec in history(config.ledger_dir, fp, led.storage):
        detail = {k: v for k, v in rec.items() if k not in ("fp", "prev", "type", "ts", "target")}
        click.echo(f"  {rec['ts']}  {rec['type']:<7} {json.dumps(detail, sort_keys=True)}")
    return 0


def _read(config: Config, key: bytes | None) -> Ledger:
    """The ledger for showing: a ledger that does not verify is shown with a warning."""
    led = read_ledger(config.ledger_dir, key, storage=open_storage(config))
    problems = ledger_problems(led)
    if problems:
        click.secho(
            f"Warning: the ledger does not verify ({problems[0]}): what it shows is not proven",
            fg="yellow",
            err=True,
        )
    return led


@ledger.command("unlock")
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@pass_globals
def unlock(g: Globals, lock_id: str, force: bool) -> int:
    """Break a stale lock left by a run that died (recorded in the ledger). A lock whose
    process is alive on this host is never broken. With the postgres backend, LOCK_ID is
    a lease's fencing token (`reconcile ledger leases`)."""
    config = g.config()
    key = ledger_key(config)
    if shared(config):
        return unlock_lease(config, lock_id, force, key)
    info = read_lock(config.ledger_dir)
    if info is None:
        raise ReconcilerError("the ledger is not locked")
    # refuse before asking: a wrong ID or a live holder must not look like it will work
    check_breakable(info, lock_id)
    click.echo(f"Lock Info:\n  {info.describe()}")
    if info.looks_stale():
        click.echo(f"Its process ({info.pid}) is gone on this host: the lock is stale.")
    else:
        click.echo(
            f"It was taken on another host ({info.host}): whether its run is alive cannot be "
            "checked from here."
        )
    if not force:
        answer = click.prompt(
            "Breaking a lock held by a live run can corrupt the ledger.\n"
            "Only 'yes' will be accepted to confirm",
            default="",
            show_default=False,
        )
        if answer != "yes":
            raise ReconcilerError("unlock cancelled; the lock is kept")
    _, recorded = break_lock(config.ledger_dir, lock_id, who(), key)
    where = "; the break is recorded in the ledger" if recorded else " (no ledger to record it in)"
    click.echo(f"The lock {lock_id} was removed{where}.")
    return 0


DECIDED = {
    "done": "the next plan counts them removed (evidence: resolved by a person)",
    "absent": "the next plan counts them done: never there (evidence: resolved by a person)",
    "pending": "the next plan sends them again",
}


@ledger.command("resolve")
@click.argument("fingerprints", nargs=-1, required=True)
@click.option(
    "--as",
    "decision",
    required=True,
    type=click.Choice(RESOLUTIONS),
    help="done: you saw it gone at the vendor; absent: you saw it was never there; "
    "pending: nothing was done there, send it again.",
)
@click.option(
    "--reason",
    required=True,
    help="What you checked and where (one line; recorded in the ledger, emails and "
    "phone numbers masked).",
)
@click.option("--by", "by", help="Who decides. [default: git's user.email, else user@host]")
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@pass_globals
def resolve_items(
    g: Globals,
    fingerprints: tuple[str, ...],
    decision: str,
    reason: str,
    by: str | None,
    force: bool,
) -> int:
    """Record a person's decision about unknown items (held ones included), by
    fingerprint or a unique prefix: who, when and why, in the ledger."""
    config = g.config()
    key = ledger_key(config)
    recorded_reason = checked_reason(reason)
    by = (by or person(str(config.root))).strip()
    if not by or not by.isprintable() or len(by) > 200:
        raise ReconcilerError("--by must be one line of printable text (a name or an email)")
    # checked before asking (and again under the lock): a wrong prefix must not look
    # like it will work
    items = match_items(_read(config, key), fingerprints)
    click.echo(f"Items to resolve as {decision}:")
    for fp, status in items:
        why = status.conflict or status.message or "no answer was recorded"
        click.echo(f"  {fp[:16]}  {status.target}  {status.state}: {why}")
    if recorded_reason != reason.strip():
        click.secho(
            "Warning: the reason names an email or phone number: it is recorded masked",
            fg="yellow",
            err=True,
        )
    if decision == "pending":
        click.secho(
            "Warning: pending sends these again. For a delete that is not idempotent "
            "(Braze by email or phone) that is only safe when you checked that the first "
            "request did nothing.",
            fg="yellow",
            err=True,
        )
    if not force:
        if not sys.stdin.isatty():
            raise ReconcilerError(
                "standard input is not a terminal, so nobody can confirm: run with --force"
            )
        answer = click.prompt(
            "Only 'yes' will be accepted to confirm", default="", show_default=False
        )
        if answer != "yes":
            raise ReconcilerError("resolve cancelled; nothing was recorded")
    done, run_id = record_decision(
        config,
        key,
        fingerprints,
        Decision(decision, recorded_reason, by, current_commit(str(config.root))),
    )
    click.echo(
        f"Recorded: {len(done)} item(s) resolved as {decision} by {by} (run {run_id}); "
        f"{DECIDED[decision]}."
    )
    return 0


VERDICTS = {
    "removed": "REMOVED: the vendor confirmed the deletion",
    "absent": "ALREADY ABSENT: the vendor's answer proves it was not there",
    "confirmed": "REMOVED: a read of the vendor confirmed it is gone",
    "resolved": "DONE by a person's decision",
}


def verdict(state: str, records: list[dict[str, Any]]) -> str:
    """One line answering "was it removed?" from the item's state and its last result."""
    # the record that set the state: a result, or a refresh that saw something (an
    # unverified read changes nothing)
    last = next(
        (
            r
            for r in reversed(records)
            if r["type"] in ("result", "resolution")
            or (r["type"] == "refresh" and r.get("observed") in ("present", "absent"))
        ),
        None,
    )
    when = (
        f" ({last['ts']}, run {last['run']}, commit {last.get('commit') or 'unknown'})"
        if last
        else ""
    )
    if state == "done":
        evidence = (last or {}).get("evidence")
        if (last or {}).get("type") == "refresh":
            evidence = "confirmed"
        if last is not None and last["type"] == "resolution":
            decided = f"{last.get('as')} by {last.get('who')}: {last.get('reason')}"
            return f"{VERDICTS['resolved']} ({decided}){when}"
        return VERDICTS.get(str(evidence), "DONE (recorded before evidence kinds were kept)") + when
    if state == "accepted":
        return (
            "ACCEPTED, NOT CONFIRMED: the vendor queued or acknowledged it; a refresh "
            f"confirms it is gone{when}"
        )
    if state == "drifted":
        return f"BACK AGAIN: a read found it present after removal{when}"
    if state == "unknown":
        return "UNKNOWN: sent, no answer recorded (the next plan re-sends or holds it)"
    return f"NOT REMOVED: {state}{when}"


def _parse_profile(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ReconcilerError(f"--profile {pair}: expected KEY=VALUE, e.g. user_id=u_1001")
        out[key] = value
    return out


@ledger.command("find")
@click.option("--target", required=True, help="The target the value was removed at.")
@click.option("--value", help="A raw value: searched in declared items.")
@click.option("--profile", "profile", multiple=True, help="KEY=VALUE locating the profile.")
@click.option("--type", "id_type", help="The identifier type, with --profile.")
@pass_globals
def find(
    g: Globals,
    target: str,
    value: str | None,
    profile: tuple[str, ...],
    id_type: str | None,
) -> int:
    """Was this removed? When, by which run and commit, and what did the vendor answer."""
    config = g.config()
    check_targets(config, [target])
    if value is None and not profile:
        raise ReconcilerError("give --value, or --profile (with --type) to describe the item")
    key = ledger_key(config)
    led = _read(config, key)
    fingerprint, _ = fingerprinter_for(led, key)
    candidates = []
    if profile:
        candidates += item_from_args(
            config.targets[target], _parse_profile(profile), id_type, value
        )
    if value is not None:
        loaded = load_specs(config)
        candidates += items_with_value(loaded.desired, target, value)
        if loaded.locked:
            click.secho(
                f"Warning: {len(loaded.locked)} encrypted source(s) not searched (key not "
                "available); --profile and --type find an item without them",
                fg="yellow",
                err=True,
            )
    found_any = False
    for item in {i.canonical(): i for i in candidates}.values():
        fp = fingerprint(item)
        status = led.items.get(fp)
        click.echo(f"{describe(item)}\n  fingerprint: {fp}")
        if status is None:
            click.echo("  NOT FOUND in the ledger: never sent")
            continue
        found_any = True
        records = list(history(config.ledger_dir, fp, led.storage))
        click.echo(f"  {verdict(status.state, records)}")
        for rec in records:
            if rec["type"] in ("result", "refresh"):
                answer = rec.get("status") or rec.get("observed")
                if rec.get("evidence"):
                    answer = f"{answer} ({rec['evidence']})"
                extra = f", HTTP {rec['code']}" if rec.get("code") else ""
                if rec.get("vendor_code"):
                    extra += f" {rec['vendor_code']}"
                msg = f", vendor said: {rec['message']}" if rec.get("message") else ""
                click.echo(
                    f"  {rec['ts']} {rec['type']} {answer}{extra}{msg} "
                    f"(run {rec['run']}, commit {rec.get('commit') or 'unknown'})"
                )
    if not candidates:
        click.echo("No declared item holds that value at this target.")
    return 0 if found_any else 1


for _command in PG_COMMANDS:
    ledger.add_command(_command)

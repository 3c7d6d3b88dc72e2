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
from reconciler.desired import Item
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, open_storage, shared, where
from reconciler.ledger.decisions import Decision, checked_reason, match_items, record_decision
from reconciler.ledger.gitcheck import history_problems
from reconciler.ledger.listing import check_manifests, filter_rows, list_rows
from reconciler.ledger.lock import check_breakable, read_lock
from reconciler.ledger.lookup import (
    NearMiss,
    declared_item,
    item_by_prefix,
    item_from_args,
    matching_items,
)
from reconciler.ledger.records import RESOLUTIONS, STATES
from reconciler.ledger.storage import Storage
from reconciler.ledger.store import Ledger, read_ledger
from reconciler.ledger.unlock import break_lock
from reconciler.ledger.verify import history, ledger_problems, verify_ledger
from reconciler.manifests import load_specs
from reconciler.plan.build import check_targets
from reconciler.plan.keys import fingerprinter_for
from reconciler.render.describe import describe
from reconciler.render.ledger import item_lines, list_table, verdict
from reconciler.render.ledgerjson import find_json, item_json, list_json, show_json


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


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a versioned document on stdout (schemas/ledger.schema.json).",
)


def _emit_json(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=1, ensure_ascii=False))


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
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="Show at most N items (the count of all that match is still given). [default: no limit]",
)
@click.option("--show-values", is_flag=True, help="Show identifier values unmasked.")
@FORMAT
@pass_globals
def list_items(
    g: Globals,
    targets: tuple[str, ...],
    states: tuple[str, ...],
    manifests: tuple[str, ...],
    limit: int | None,
    show_values: bool,
    fmt: str,
) -> int:
    """Every item declared or recorded, with its state."""
    config = g.config()
    check_targets(config, targets)
    key = ledger_key(config)
    led = _read(config, key)
    loaded = load_specs(config)
    loaded.require_values("ledger list")
    check_manifests((m.name for m in loaded.manifests), manifests)
    fingerprint, _ = fingerprinter_for(led, key)
    rows = filter_rows(list_rows(loaded.desired, led, fingerprint), targets, states, manifests)
    shown = rows if limit is None else rows[:limit]
    if fmt == "json":
        _emit_json(list_json(shown, len(rows), show_values))
    elif shown:
        for line in list_table(shown, show_values):
            click.echo(line)
    if len(shown) < len(rows):
        click.echo(f"{len(shown)} of {len(rows)} item(s) shown (--limit {limit}).", err=True)
    else:
        click.echo(f"{len(rows)} item(s).", err=True)
    return 0


def _describe_declared(
    config: Config, led: Ledger, key: bytes | None, fp: str
) -> tuple[Item | None, list[str]]:
    """The declared item behind a fingerprint and where it is declared; (None, []) when
    no manifest declares it now (or the manifests do not load: said on stderr)."""
    loaded = load_specs(config)
    if not loaded.ok:
        click.secho(
            "Warning: the manifests do not load (reconcile validate): the item is shown "
            "without its description",
            fg="yellow",
            err=True,
        )
        return None, []
    fingerprint, _ = fingerprinter_for(led, key)
    found = declared_item(loaded.desired, fingerprint, fp)
    if found is None:
        return None, []
    item, sources = found
    return item, [f"{s.manifest}, {s.file}:{s.line}" for s in sources]


@ledger.command("show")
@click.argument("fingerprint")
@FORMAT
@pass_globals
def show(g: Globals, fingerprint: str, fmt: str) -> int:
    """The history of one item (a fingerprint, or a unique prefix of one): what it is,
    each attempt, each answer, and how it stands."""
    config = g.config()
    key = ledger_key(config)
    led = _read(config, key)
    fp, status = item_by_prefix(led, fingerprint)
    item, declared = _describe_declared(config, led, key, fp)
    records = list(history(config.ledger_dir, fp, led.storage))
    if fmt == "json":
        entry = item_json(
            fp,
            status.target,
            status.state,
            status.evidence,
            status.conflict,
            item,
            declared,
            verdict(status.state, records),
            records,
        )
        _emit_json(show_json(entry))
        return 0
    what = describe(item) if item is not None else None
    lines = item_lines(
        fp, status.target, status.state, status.evidence, status.conflict, what, declared, records
    )
    for line in lines:
        click.echo(line)
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


def stdin_is_terminal() -> bool:
    """Whether someone can answer a question (tests replace this to answer one)."""
    return sys.stdin.isatty()


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
        if not stdin_is_terminal():
            raise ReconcilerError(
                "standard input is not a terminal, so nobody can confirm: run with --force "
                "(after checking the run that took the lock is gone)"
            )
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
@click.option(
    "--type",
    "id_type",
    help="The value's type (email, phone, user_id, an attribute name...): with --value, "
    "only items where the value has this type; with --profile, the identifier type.",
)
@FORMAT
@pass_globals
def find(
    g: Globals,
    target: str,
    value: str | None,
    profile: tuple[str, ...],
    id_type: str | None,
    fmt: str,
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
    near = NearMiss((), ())
    if profile:
        candidates += item_from_args(
            config.targets[target], _parse_profile(profile), id_type, value
        )
    if value is not None:
        loaded = load_specs(config)
        found, near = matching_items(loaded.desired, target, value, id_type)
        candidates += found
        if loaded.locked:
            click.secho(
                f"Warning: {len(loaded.locked)} encrypted source(s) not searched (key not "
                "available); --profile and --type find an item without them",
                fg="yellow",
                err=True,
            )
    found_any = False
    matches: list[dict[str, Any]] = []
    for item in {i.canonical(): i for i in candidates}.values():
        fp = fingerprint(item)
        status = led.items.get(fp)
        records = list(history(config.ledger_dir, fp, led.storage)) if status is not None else []
        found_any = found_any or status is not None
        if fmt == "json":
            matches.append(
                item_json(
                    fp,
                    item.target,
                    status.state if status else None,
                    status.evidence if status else None,
                    status.conflict if status else None,
                    item,
                    [],
                    verdict(status.state, records) if status else NEVER_SENT,
                    records,
                )
            )
            continue
        click.echo(f"{describe(item)}\n  fingerprint: {fp}")
        if status is None:
            click.echo(f"  {NEVER_SENT}")
            continue
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
    if fmt == "json":
        _emit_json(
            find_json(
                target, value is not None, id_type, matches, near.other_types, near.other_targets
            )
        )
    elif not candidates:
        click.echo(near_miss_text(target, id_type, near))
    return 0 if found_any else 1


NEVER_SENT = "NOT FOUND in the ledger: never sent"


def near_miss_text(target: str, id_type: str | None, near: NearMiss) -> str:
    """Why nothing was found, and where the value is declared instead."""
    typed = f" as {id_type}" if id_type else ""
    text = f"No declared item holds that value{typed} at this target ({target})."
    if near.other_types:
        kinds = ", ".join(near.other_types)
        text += (
            f" An item with that value and type {kinds} exists here (--type {near.other_types[0]})."
        )
    if near.other_targets:
        names = ", ".join(near.other_targets)
        text += f" Target {names} has an item with that value (--target {near.other_targets[0]})."
    return text


for _command in PG_COMMANDS:
    ledger.add_command(_command)

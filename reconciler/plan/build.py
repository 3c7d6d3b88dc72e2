"""Diffing the desired state against the ledger into a plan. No network, no secrets."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.config import Config
from reconciler.desired import DesiredState, Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, open_storage
from reconciler.ledger.records import DRIFTED, FP_CHARS, PENDING, UNKNOWN
from reconciler.ledger.store import Ledger, read_ledger
from reconciler.ledger.verify import IGNORED, LedgerBroken, ledger_problems
from reconciler.manifests import LoadResult, load_specs
from reconciler.plan.deadlines import manifest_deadlines
from reconciler.plan.keys import UNKEYED_WARNING, fingerprinter_for, is_unkeyed
from reconciler.plan.model import Action, LedgerRef, Plan, TargetPlan


def build_plan(
    config: Config,
    desired: DesiredState,
    ledger: Ledger,
    fingerprint: Fingerprinter,
    only_targets: Iterable[str] = (),
    new_ledger_salt: str | None = None,
) -> Plan:
    wanted = list(only_targets)
    names = wanted or list(config.targets)
    plans = {name: TargetPlan(config.targets[name]) for name in names}
    recorded: set[str] = set()  # ledger keys of desired items (the rest are pending)
    items = ledger.items
    lookup = dict.get.__get__(items)  # by the 128-bit key records hold (item_key)
    of_bytes = fingerprint.of_bytes
    # the desired state is keyed by each item's canonical bytes: fingerprint those
    vendors = desired.vendors
    table = desired.sources
    target_of = desired.target_of
    for canonical, refs in desired.entries.items():
        target = target_of(canonical)
        tp = plans.get(target)
        if tp is None:
            continue
        fp = of_bytes(canonical)
        short = fp[:FP_CHARS]
        status = lookup(short)
        if status is None:
            action = Action(fp, canonical, vendors[target], refs, table, PENDING)
        else:
            recorded.add(short)
            since = status.ts if status.state == DRIFTED else None
            action = Action(
                fp, canonical, vendors[target], refs, table, status.state, status.held, since
            )
        tp.actions.append(action)
        tp.summary.count(action.state, action.state == UNKNOWN and action.held)
    if len(recorded) < len(items):
        for fp, status in items.items():
            if fp not in recorded and status.target in plans:
                plans[status.target].orphaned.append(fp)
    subset = desired.for_targets(names) if wanted else desired
    return Plan(
        targets=[plans[n] for n in names],
        ledger=LedgerRef(ledger.exists, ledger.lineage, ledger.serial, ledger.digest, ledger.head),
        desired_digest=subset.digest(fingerprint),
        accounts={n: config.targets[n].account for n in names},
        fingerprint_scheme=fingerprint.scheme,
        key_id=fingerprint.key_id,
        target_filter=wanted,
        warnings=list(ledger.warnings),
        new_ledger_salt=new_ledger_salt,
    )


def check_targets(config: Config, names: Sequence[str]) -> None:
    for name in names:
        if name not in config.targets:
            known = ", ".join(sorted(config.targets))
            raise ReconcilerError(f"--target {name}: no such target (targets: {known})")


def check_accounts(config: Config, ledger: Ledger) -> None:
    """Refuse when a target name now reaches another account than the ledger recorded."""
    for name, target in config.targets.items():
        recorded = ledger.target_accounts.get(name)
        if recorded is not None and recorded != target.account:
            raise ReconcilerError(
                f"target {name} now reaches a different account (base_url, space, store or "
                "partner changed) than the one the ledger recorded removals at: those items "
                "were not removed there. Give the new account a new target name"
            )


def plan_from_config(
    config: Config,
    key: bytes | None,
    only_targets: Sequence[str] = (),
    salt_hex: str | None = None,
    paths: Iterable[Path] = (),
    ignore_ledger_errors: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Plan, LoadResult, Ledger]:
    """Load manifests and ledger and diff them. Raises ValidationFailed on bad input,
    LedgerBroken when the ledger does not verify (its chain, its MACs, or against what
    git committed), unless `ignore_ledger_errors`: then the plan says so."""
    check_targets(config, only_targets)
    # Millions of items, records and actions, none of them in a reference cycle: the
    # cyclic collector would only rescan them again and again as they pile up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loaded = load_specs(config, paths)
        loaded.require_values("plan and apply")
        storage = open_storage(config)
        try:
            ledger = read_ledger(config.ledger_dir, key, storage=storage)
        finally:
            close_storage(storage)
        problems = ledger_problems(ledger, git_report(config))
        if problems and not ignore_ledger_errors:
            raise LedgerBroken(problems, "no plan was made and nothing was sent")
        check_accounts(config, ledger)
        fingerprint, new_salt = fingerprinter_for(ledger, key, salt_hex)
        plan = build_plan(config, loaded.desired, ledger, fingerprint, only_targets, new_salt)
    finally:
        if collecting:
            gc.enable()
    moment = now or dt.datetime.now(dt.UTC)
    plan.deadlines, plan.estimates = manifest_deadlines(plan, loaded.manifests, ledger, moment)
    for row in plan.deadlines:
        if row.needs_person:
            plan.warnings.append(f"manifest {row.manifest.name}: {row.verdict()}")
    if is_unkeyed(fingerprint):
        plan.warnings.insert(0, UNKEYED_WARNING)
    if problems:
        plan.ledger_errors = problems
        plan.warnings.insert(0, IGNORED.format(first=problems[0]))
    return plan, loaded, ledger

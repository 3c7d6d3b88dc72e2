"""Diffing the desired state against the ledger into a plan. No network, no secrets."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterable, Sequence
from pathlib import Path

from reconciler.config import Config
from reconciler.desired import DesiredDigest, DesiredState, Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, open_storage
from reconciler.ledger.records import FP_CHARS
from reconciler.ledger.store import Ledger, read_ledger
from reconciler.ledger.table import Key, text_of
from reconciler.ledger.verify import IGNORED, LedgerBroken, ledger_problems
from reconciler.manifests import LoadResult, load_specs
from reconciler.plan.deadlines import manifest_deadlines
from reconciler.plan.keys import UNKEYED_WARNING, fingerprinter_for, is_unkeyed
from reconciler.plan.model import Action, Blanks, LedgerRef, Plan, SpilledActions, TargetPlan
from reconciler.spill import Sorter
from reconciler.states import DRIFTED, PENDING, UNKNOWN

fromhex = bytes.fromhex

SPILL_ITEMS = 1_000_000
"""Desired items held in memory before the desired state and the plan's actions go to
disk as sorted runs (reconciler.spill): smaller projects are planned wholly in memory
(about 0.5 KB an item beside a small ledger; a million beside a 5,000,000-item ledger
peak at 1.5 GB, benchmarks/plan_memory.py), larger ones in memory that does not grow
with their size (runs of spill.RUN_ITEMS; 811 MB at 10M items beside that ledger). Planning
on disk costs about 1.3x the CPU of planning in memory (two more sorts, sealing and
merging the runs: benchmarks/plan_scale.py at 600k items), so a plan that fits stays in
memory."""


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
    if desired.spilled:
        desired_digest = _build_spilled(plans, desired, ledger, fingerprint, bool(wanted))
    else:
        _build(plans, desired, ledger, fingerprint)
        subset = desired.for_targets(names) if wanted else desired
        desired_digest = subset.digest(fingerprint)
    return Plan(
        targets=[plans[n] for n in names],
        ledger=LedgerRef(ledger.exists, ledger.lineage, ledger.serial, ledger.digest, ledger.head),
        desired_digest=desired_digest,
        accounts={n: config.targets[n].account for n in names},
        fingerprint_scheme=fingerprint.scheme,
        key_id=fingerprint.key_id,
        target_filter=wanted,
        warnings=list(ledger.warnings),
        new_ledger_salt=new_ledger_salt,
    )


def _build(
    plans: dict[str, TargetPlan], desired: DesiredState, ledger: Ledger, fingerprint: Fingerprinter
) -> None:
    """The plan's actions, in memory: one list a target, in first-declared order."""
    lists: dict[str, list[Action]] = {name: [] for name in plans}
    recorded: set[Key] = set()  # ledger keys of desired items (the rest are pending)
    items = ledger.items
    lookup = items.get_key  # by the 16 bytes of the 128-bit key records hold (item_key)
    of_bytes = fingerprint.of_bytes
    # the desired state is keyed by each item's canonical bytes: fingerprint those
    vendors = desired.vendors
    table = desired.sources
    target_of = desired.target_of
    # entries come in runs of one target (first-declared order): the target is read
    # again only when an entry no longer starts with the current one's `["<name>",`
    prefix, target, vendor_name = b"\x00", "", ""
    add = None  # the current target's list's append; None for a target not planned
    in_ledger = dict.fromkeys(plans, 0)  # desired items the ledger holds, by target
    for canonical, refs in desired.entries.items():
        if not canonical.startswith(prefix):
            target = target_of(canonical)
            prefix = b'["' + target.encode("ascii") + b'",'
            actions = lists.get(target)
            add = actions.append if actions is not None else None
            vendor_name = vendors[target]
        if add is None:
            continue
        fp = of_bytes(canonical)
        key = fromhex(fp[:FP_CHARS])  # a fingerprint is lowercase hex
        status = lookup(key)
        if status is None:  # pending: counted below, by what is left
            add(Action(fp, canonical, vendor_name, refs, table, PENDING))
            continue
        recorded.add(key)
        since = status.ts if status.state == DRIFTED else None
        action = Action(fp, canonical, vendor_name, refs, table, status.state, status.held, since)
        add(action)
        plans[target].summary.count(action.state, action.state == UNKNOWN and action.held)
        in_ledger[target] += 1
    for name, tp in plans.items():
        tp.summary.to_remove += len(lists[name]) - in_ledger[name]
    orphaned: dict[str, list[str]] = {name: [] for name in plans}
    if len(recorded) < len(items):
        for held, status in items.keyed():
            if held not in recorded and status.target in plans:
                orphaned[status.target].append(text_of(held))
    for name, tp in plans.items():
        tp.actions = lists[name]
        tp.orphaned = orphaned[name]


def _build_spilled(
    plans: dict[str, TargetPlan],
    desired: DesiredState,
    ledger: Ledger,
    fingerprint: Fingerprinter,
    filtered: bool,
) -> str:
    """The plan's actions when the desired state was spilled: the desired items merged
    from their sorted runs (by canonical bytes: the order the desired digest reads
    them in), each looked up in the ledger's item table, then sorted back on disk into
    first-declared order per target. Returns the desired digest. Orphaned items are
    counted, not listed (only their number is ever shown)."""
    assert desired.spill is not None
    # the actions' sorters share the desired state's budget
    limit = max(1, desired.run_items // max(1, len(plans)))
    sorters = {name: Sorter(desired.spill, limit) for name in plans}
    adds = {name: sorter.add for name, sorter in sorters.items()}
    sends = dict.fromkeys(plans, 0)
    dated = dict.fromkeys(plans, 0)  # actions with a `since` (drifted)
    recorded = dict.fromkeys(plans, 0)
    pending = dict.fromkeys(plans, 0)
    items = ledger.items
    lookup = items.get_key  # by the 16 bytes of the 128-bit key records hold (item_key)
    of_bytes = fingerprint.of_bytes
    vendors, table, target_of = desired.vendors, desired.sources, desired.target_of
    digest = DesiredDigest()
    add_digest = digest.add
    word = str(PENDING)  # states as words: marshal takes no enum (SpilledActions: State)
    for canonical, seq, refs in desired.merged():
        target = target_of(canonical)
        add = adds.get(target)
        if add is None:
            if not filtered:
                add_digest(canonical)
            continue
        add_digest(canonical)
        fp = of_bytes(canonical)
        status = lookup(fromhex(fp[:FP_CHARS]))
        if status is None:  # most items of a large plan: counted and sent, held by nothing
            pending[target] += 1
            add((seq, fp, canonical, refs, word, False, None))
            continue
        recorded[target] += 1
        since = status.ts if status.state == DRIFTED else None
        action = Action(
            fp, canonical, vendors[target], refs, table, status.state, status.held, since
        )
        plans[target].summary.count(action.state, action.state == UNKNOWN and action.held)
        sends[target] += action.will_send
        dated[target] += since is not None
        add((seq, fp, canonical, refs, str(action.state), action.conflicted, action.since))
    desired.drop_runs()
    for name, count in pending.items():
        plans[name].summary.to_remove += count
        sends[name] += count
    in_ledger = dict.fromkeys(plans, 0)
    for status in items.values():
        if status.target in in_ledger:
            in_ledger[status.target] += 1
    for name, tp in plans.items():
        vendor = vendors.get(name, tp.target.vendor)
        tp.actions = SpilledActions(
            sorters[name], vendor, table, sends[name], limit, dated=dated[name] > 0
        )
        tp.orphaned = Blanks(in_ledger[name] - recorded[name])
    return digest.value(fingerprint)


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
    spill_at: int | None = None,
) -> tuple[Plan, LoadResult, Ledger]:
    """Load manifests and ledger and diff them. Raises ValidationFailed on bad input,
    LedgerBroken when the ledger does not verify (its chain, its MACs, or against what
    git committed), unless `ignore_ledger_errors`: then the plan says so. Past `spill_at`
    desired items (default SPILL_ITEMS) the plan is made on disk (DesiredState)."""
    check_targets(config, only_targets)
    # Millions of items, records and actions, none of them in a reference cycle: the
    # cyclic collector would only rescan them again and again as they pile up.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loaded = load_specs(config, paths, spill_at=spill_at or SPILL_ITEMS)
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

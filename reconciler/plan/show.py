"""`reconcile show PLANFILE`: a saved plan made whole again, without re-planning.

The file holds each item's fingerprint and state, not its value: the items come from the
manifests (which must be the ones planned: the desired digest says so), the states from
the file, never from the ledger as it is now. The result is the plan model `plan` made,
so every renderer gives what `plan` gave (`--format json`: the same bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.config import Config
from reconciler.desired import DesiredDigest, DesiredState, Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, open_storage, where
from reconciler.ledger.header import parse_header
from reconciler.manifests import load_specs
from reconciler.plan import build
from reconciler.plan.build import check_targets
from reconciler.plan.model import (
    Action,
    Blanks,
    LedgerRef,
    Plan,
    SpilledActions,
    Summary,
    TargetPlan,
)
from reconciler.plan.planfile import SavedPlan, layout_digest
from reconciler.plan.planframe import FP_BYTES
from reconciler.plan.savedjoin import conflicted, joined, state_of
from reconciler.spill import Sorter
from reconciler.states import PENDING


@dataclass
class ShownPlan:
    plan: Plan
    notes: list[str] = field(default_factory=list)  # what differs from when it was made


def _cannot(saved: SavedPlan, why: str) -> ReconcilerError:
    return ReconcilerError(f"{saved.path} cannot be shown: {why}. Make the plan again")


def _fingerprinter(config: Config, key: bytes | None, saved: SavedPlan) -> Fingerprinter:
    head = saved.head
    if key is not None:
        return Fingerprinter.keyed(key)  # load_plan checked it is the plan's key
    salt = saved.new_ledger_salt
    if salt is not None:
        return Fingerprinter.salted(bytes.fromhex(salt))
    storage = open_storage(config)  # the files, or PostgreSQL
    try:
        line = storage.read_header()
    finally:
        close_storage(storage)
    if line is None:
        raise _cannot(saved, "the ledger it was made from (salted, without a key) is gone")
    header = parse_header(line, where(config))
    if header.lineage != head["ledger"]["lineage"] or header.salt is None:
        raise _cannot(saved, "it was made from another ledger (another project?)")
    return header.fingerprinter(None)


def rebuild_plan(config: Config, key: bytes | None, saved: SavedPlan) -> ShownPlan:
    head = saved.head
    names = [name for name, _ in saved.sections]
    try:
        check_targets(config, names)
    except ReconcilerError as exc:
        raise _cannot(saved, f"a target it was made for is not in reconciler.yaml ({exc})") from exc
    fingerprint = _fingerprinter(config, key, saved)
    if fingerprint.key_id != head["fingerprint"]["key_id"]:
        raise _cannot(saved, "it was made under another fingerprint key or salt")
    notes: list[str] = []
    if saved.header["config_digest"] != saved.seal.config_digest(config):
        notes.append("reconciler.yaml changed since the plan was made")
    # past SPILL_ITEMS desired items, made on disk as plan makes it (read at call time)
    loaded = load_specs(config, spill_at=build.SPILL_ITEMS)
    loaded.require_values("show")
    desired = loaded.desired
    plans: dict[str, TargetPlan] = {}
    for section in saved.header["sections"]:
        name = section["target"]
        tp = TargetPlan(config.targets[name])
        tp.orphaned = Blanks(section["orphaned"]) if desired.spilled else [""] * section["orphaned"]
        plans[name] = tp
    for target in head["targets"]:
        plans[target["name"]].summary = Summary(**target["summary"])
    if desired.spilled:
        _rebuild_spilled(saved, plans, desired, fingerprint)
    else:
        _rebuild(saved, plans, desired, fingerprint)
    plan = _model(plans, head, list(saved.header["warnings"]))
    plan.ledger_errors = list(saved.header["ledger_errors"])
    if saved.header["layout_digest"] != layout_digest(plan, fingerprint):
        notes.append(
            "the manifests were edited since the plan was made (the same items, in another "
            "order or at other lines): sources are shown as they are now"
        )
    return ShownPlan(plan, notes)


def _rebuild(
    saved: SavedPlan,
    plans: dict[str, TargetPlan],
    desired: DesiredState,
    fingerprint: Fingerprinter,
) -> None:
    """The saved plan's actions, in memory."""
    head = saved.head
    names = list(plans)
    subset = desired.for_targets(names) if head["target_filter"] else desired
    if subset.digest(fingerprint) != head["desired_digest"]:
        raise _cannot(saved, "the manifests changed since the plan was made")
    vendors, table, target_of = desired.vendors, desired.sources, desired.target_of
    of_bytes = fingerprint.of_bytes
    lists: dict[str, list[Action]] = {name: [] for name in plans}
    for canonical, refs in subset.entries.items():
        name = target_of(canonical)
        made = Action(of_bytes(canonical), canonical, vendors[name], refs, table, "pending")
        lists[name].append(made)
    for name, tp in plans.items():
        tp.actions = lists[name]
    since = saved.since
    for name, action, record in joined(saved, _model(plans, head, [])):
        if action is None or record is None:
            raise _cannot(saved, f"its items of target {name} are not the manifests' items")
        action.state = state_of(record)
        action.conflicted = conflicted(record)
        action.since = since[record.since] if record.since >= 0 else None


def _rebuild_spilled(
    saved: SavedPlan,
    plans: dict[str, TargetPlan],
    desired: DesiredState,
    fingerprint: Fingerprinter,
) -> None:
    """The saved plan's actions when the desired state was spilled, on disk: the desired
    items merged (the desired digest read on the way), sorted by fingerprint per target
    and walked beside the file's records (sorted the same way), each given its saved
    state, then sorted back into plan order (SpilledActions), as plan builds it."""
    assert desired.spill is not None
    head = saved.head
    filtered = bool(head["target_filter"])
    limit = max(1, desired.run_items // max(1, len(plans)))
    by_fp = {name: Sorter(desired.spill, limit) for name in plans}
    of_bytes, target_of = fingerprint.of_bytes, desired.target_of
    digest = DesiredDigest()
    for canonical, seq, refs in desired.merged():
        sorter = by_fp.get(target_of(canonical))
        if sorter is None and filtered:
            continue
        digest.add(canonical)
        if sorter is not None:
            sorter.add((of_bytes(canonical), seq, canonical, refs))
    desired.drop_runs()
    if digest.value(fingerprint) != head["desired_digest"]:
        raise _cannot(saved, "the manifests changed since the plan was made")
    since = saved.since
    vendors, table = desired.vendors, desired.sources
    records = saved.records()
    pending = next(records, None)
    for section, (name, _) in enumerate(saved.sections):
        tp = plans[name]
        vendor = vendors.get(name, tp.target.vendor)
        ordered = Sorter(desired.spill, limit)
        sends = 0
        for fp, seq, canonical, refs in by_fp[name]:
            if pending is None or pending[0] != section or pending[1].fp.hex() != fp[:_HEX]:
                raise _cannot(saved, f"its items of target {name} are not the manifests' items")
            record = pending[1]
            state, clash = state_of(record), conflicted(record)
            when = since[record.since] if record.since >= 0 else None
            if state == PENDING and not clash:
                sends += 1
            else:
                sends += Action(fp, canonical, vendor, refs, table, state, clash, when).will_send
            ordered.add((seq, fp, canonical, refs, state, clash, when))
            pending = next(records, None)
        if pending is not None and pending[0] == section:
            raise _cannot(saved, f"its items of target {name} are not the manifests' items")
        by_fp[name].drop()
        tp.actions = SpilledActions(ordered, vendor, table, sends, limit)
    if pending is not None:  # records of no section: the reader refuses those
        raise _cannot(saved, "its items are not the manifests' items")


_HEX = FP_BYTES * 2


def _model(plans: dict[str, TargetPlan], head: dict[str, Any], warnings: list[str]) -> Plan:
    ledger = head["ledger"]
    fingerprint = head["fingerprint"]
    return Plan(
        targets=list(plans.values()),
        ledger=LedgerRef(
            ledger["exists"], ledger["lineage"], ledger["serial"], ledger["digest"], ledger["head"]
        ),
        desired_digest=head["desired_digest"],
        fingerprint_scheme=fingerprint["scheme"],
        key_id=fingerprint["key_id"],
        target_filter=list(head["target_filter"]),
        accounts=dict(head["accounts"]),
        warnings=warnings,
        new_ledger_salt=fingerprint.get("new_ledger_salt"),
    )

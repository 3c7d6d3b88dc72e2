"""One apply run: lock, re-check the ledger, create it if new, send, record, unlock."""

from __future__ import annotations

import asyncio
import secrets as secrets_module
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from reconciler import __version__
from reconciler.apply.client import RetryPolicy, Transport
from reconciler.apply.engine import ApplyReport, Engine, Progress, TargetWork
from reconciler.config import Config
from reconciler.desired import KEYED, Fingerprinter, Item
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, hold, open_storage, shared
from reconciler.ledger.lock import LockBroken
from reconciler.ledger.store import Ledger, RunWriter, create_ledger, read_ledger
from reconciler.ledger.verify import LedgerBroken, ledger_problems
from reconciler.plan.model import Action, Chained, Plan
from reconciler.states import PENDING


@dataclass(frozen=True)
class RunInfo:
    who: str
    commit: str | None


def plan_sends(plan: Plan, allowed: set[str] | None = None) -> Sequence[Action]:
    """The actions apply sends: actionable states, and only those a saved plan listed.
    Read from disk again on each pass when the plan was spilled (Plan.sends)."""
    if allowed is None:
        return plan.sends()
    return [a for tp in plan.targets for a in tp.sends() if a.fingerprint in allowed]


def check_max_deletions(sends: Sequence[Action], limit: int | None) -> None:
    if limit is not None and len(sends) > limit:
        raise ReconcilerError(
            f"the plan sends {len(sends)} deletions, more than the limit of {limit} "
            "(--max-deletions or max_deletions in reconciler.yaml); nothing was sent"
        )


def refuse_lost_head(ledger: Ledger, head: str | None) -> None:
    """Refuse a ledger that no longer holds the records a plan was made at (`head`,
    LedgerRef.head): records were removed or the ledger was replaced since."""
    if head is not None and ledger.exists and not ledger.holds(head):
        raise ReconcilerError(
            f"the ledger no longer holds the newest record it had when this plan was made "
            f"(head {head}): records were removed or the ledger was replaced; nothing was "
            "sent. Restore the ledger (e.g. `git checkout -- state/ledger`) and plan again"
        )


def run_apply(
    config: Config,
    plan: Plan,
    sends: Sequence[Action],
    fingerprint: Fingerprinter,
    secrets: dict[str, dict[str, str]],
    info: RunInfo,
    parallelism: int = 8,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
    transport: Transport | None = None,
    should_stop: Callable[[], bool] | None = None,
    ignore_ledger_errors: bool = False,
    lock_timeout: float = 0.0,
    finishing: Callable[[], None] | None = None,
    interrupted: Callable[[], bool] | None = None,
) -> tuple[ApplyReport, str]:
    """Send `sends` and record every result. Returns the report and the run id.

    Under the lock, before anything is sent: the ledger must verify (chain, MACs, what
    git committed; unless `ignore_ledger_errors`), still hold the head the plan was made
    at, and be exactly the ledger planned from. `should_stop` (e.g. a Deadline) is asked
    before each batch is taken: once it says True, the remaining batches stay pending
    (still read for refusals unless `interrupted`, a signal, says True too).
    """
    ledger_dir = config.ledger_dir
    run_id = secrets_module.token_hex(6)
    storage = open_storage(config)
    writer: RunWriter | None = None
    report = ApplyReport()
    key = fingerprint.secret if fingerprint.scheme == KEYED else None
    created = False
    if shared(config) and not plan.ledger.exists:
        # A lease is per (lineage, target): the shared ledger's header comes first (it
        # holds no record; a second runner creating one at the same time is refused).
        try:
            create_ledger(ledger_dir, fingerprint, storage=storage)
        except ReconcilerError:
            raise ReconcilerError(
                "the ledger changed since this plan was made (another run created it "
                "first); nothing was sent. Run reconcile plan again"
            ) from None
        created = True
    try:
        with hold(
            config, storage, "apply", info.who, run_id, send_targets(sends), lock_timeout
        ) as held:
            # Nothing is sent on top of a ledger whose history was edited, cut or damaged.
            now = read_ledger(ledger_dir, key, storage=storage)
            problems = ledger_problems(now, git_report(config))
            if problems and not ignore_ledger_errors:
                raise LedgerBroken(problems, "nothing was sent")
            then = plan.ledger
            refuse_lost_head(now, then.head)
            if shared(config):
                refuse_moved_items(now, plan, sends, created)
            elif (now.exists, now.lineage, now.serial, now.digest) != (
                # The ledger may have moved between planning and taking the lock.
                then.exists,
                then.lineage,
                then.serial,
                then.digest,
            ):
                raise ReconcilerError(
                    "the ledger changed since this plan was made (another run finished "
                    "first); nothing was sent. Run reconcile plan again"
                )
            if not now.exists:
                create_ledger(ledger_dir, fingerprint, storage=storage)
            writer = RunWriter(
                ledger_dir,
                run_id,
                {
                    "operation": "apply",
                    "who": info.who,
                    "commit": info.commit,
                    "tool_version": __version__,
                    **held.info,
                    "items": len(sends),
                    "desired_digest": plan.desired_digest,
                    "targets": {name: config.targets[name].account for name in send_targets(sends)},
                },
                key=key,
                after=now.heads if now.exists else None,
                guard=held.guard,
                storage=storage,
            )
            works = [
                TargetWork(config.targets[name], _Pairs(actions), secrets.get(name, {}), count)
                for name, actions, count in sends_by_target(sends)
            ]
            engine = Engine(
                writer,
                parallelism,
                policy,
                progress,
                transport,
                fingerprint,
                should_stop=should_stop,
                interrupted=interrupted,
            )
            try:
                report = asyncio.run(engine.run(works))
                report.held = plan.summary.held
            finally:
                if finishing is not None:
                    finishing()  # e.g. no more interrupts: the records are being closed
                # engine.report: what was recorded so far, also when the run was interrupted
                report = engine.report
                close_run(
                    writer,
                    removed=report.removed,
                    accepted=report.accepted,
                    already_absent=report.already_absent,
                    failed=report.failed,
                    rejected=report.rejected,
                    not_sent=report.not_sent,
                )
            return report, run_id
    finally:
        close_storage(storage)


def sends_by_target(sends: Sequence[Action]) -> list[tuple[str, Iterable[Action], int]]:
    """(target, its sends, how many) in the order targets first appear in `sends`. A
    spilled plan's sends (Chained) are its targets' own, read from disk again on each
    pass and never gathered; a list is grouped."""
    if isinstance(sends, Chained) and sends.names is not None:
        return [
            (name, part, len(part))
            for name, part in zip(sends.names, sends.parts, strict=True)
            if len(part)
        ]
    groups: dict[str, list[Action]] = {}
    for action in sends:
        groups.setdefault(action.target, []).append(action)
    return [(name, actions, len(actions)) for name, actions in groups.items()]


def send_targets(sends: Sequence[Action]) -> list[str]:
    """The targets `sends` sends to, sorted (a spilled plan's without reading it)."""
    if isinstance(sends, Chained) and sends.names is not None:
        parts = zip(sends.names, sends.parts, strict=True)
        return sorted(name for name, part in parts if len(part))
    return sorted({a.target for a in sends})


class _Pairs(Iterable[tuple[str, Item]]):
    """(fingerprint, item) of actions, each item rebuilt on each pass (never kept)."""

    def __init__(self, actions: Iterable[Action]) -> None:
        self.actions = actions

    def __iter__(self) -> Iterator[tuple[str, Item]]:
        return ((a.fingerprint, a.item) for a in self.actions)


def close_run(writer: RunWriter, **summary: int) -> None:
    """The run's `end` record; a run whose lease was lost cannot write it (the database
    refuses): it then ends as a killed run does, its unanswered items unknown."""
    try:
        writer.close(**summary)
    except LockBroken:  # the database refused it (Fenced)
        writer.closed = True


def refuse_moved_items(now: Ledger, plan: Plan, sends: Sequence[Action], created: bool) -> None:
    """The shared ledger moves while other runs work on other targets: what must not
    have moved is this plan's items. Refuse when the ledger is another one, or any item
    to send is no longer in the state the plan saw (another run on its target finished
    first)."""
    then = plan.ledger
    if then.exists and now.lineage != then.lineage:
        raise ReconcilerError(
            "the ledger changed since this plan was made (it is another ledger now); "
            "nothing was sent. Run reconcile plan again"
        )
    moved = 0
    for action in sends:
        status = now.items.get(action.fingerprint)
        state = status.state if status is not None else PENDING
        conflicted = status is not None and status.conflict is not None
        if state != action.state or conflicted != action.conflicted:
            moved += 1
    if moved or (created and now.records):
        raise ReconcilerError(
            f"the ledger changed since this plan was made: {moved} item(s) it sends were "
            "recorded by another run since (on the same target); nothing was sent. Run "
            "reconcile plan again"
        )

"""One apply run: lock, re-check the ledger, create it if new, send, record, unlock."""

from __future__ import annotations

import asyncio
import secrets as secrets_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from reconciler import __version__
from reconciler.apply.client import RetryPolicy
from reconciler.apply.engine import ApplyReport, Engine, Progress, TargetWork
from reconciler.config import Config
from reconciler.desired import Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.lock import acquire, release
from reconciler.ledger.store import RunWriter, create_ledger, read_ledger
from reconciler.ledger.verify import check_chain
from reconciler.plan.model import Action, Plan


@dataclass(frozen=True)
class RunInfo:
    who: str
    commit: str | None


def plan_sends(plan: Plan, allowed: set[str] | None = None) -> list[Action]:
    """The actions apply sends: actionable states, and only those a saved plan listed."""
    return [
        a for tp in plan.targets for a in tp.sends() if allowed is None or a.fingerprint in allowed
    ]


def check_max_deletions(sends: Sequence[Action], limit: int | None) -> None:
    if limit is not None and len(sends) > limit:
        raise ReconcilerError(
            f"the plan sends {len(sends)} deletions, more than the limit of {limit} "
            "(--max-deletions or max_deletions in reconciler.yaml); nothing was sent"
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
    transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[ApplyReport, str]:
    """Send `sends` and record every result. Returns the report and the run id.

    `should_stop` (e.g. a Deadline) is asked before each batch is taken: once it says
    True, the remaining batches are not sent and stay pending."""
    ledger_dir = config.ledger_dir
    run_id = secrets_module.token_hex(6)
    lock = acquire(ledger_dir, "apply", info.who, run_id)
    writer: RunWriter | None = None
    report = ApplyReport()
    try:
        # Nothing is sent on top of a ledger whose history was edited or damaged.
        check_chain(ledger_dir)
        # The ledger may have moved between planning and taking the lock.
        now = read_ledger(ledger_dir)
        then = plan.ledger
        if (now.exists, now.lineage, now.serial, now.digest) != (
            then.exists,
            then.lineage,
            then.serial,
            then.digest,
        ):
            raise ReconcilerError(
                "the ledger changed since this plan was made (another run finished first); "
                "nothing was sent. Run reconcile plan again"
            )
        if not now.exists:
            create_ledger(ledger_dir, fingerprint)
        writer = RunWriter(
            ledger_dir,
            run_id,
            {
                "operation": "apply",
                "who": info.who,
                "commit": info.commit,
                "tool_version": __version__,
                "lock": lock.id,
                "items": len(sends),
                "desired_digest": plan.desired_digest,
                "targets": {
                    name: config.targets[name].account for name in sorted({a.target for a in sends})
                },
            },
        )
        by_target: dict[str, TargetWork] = {}
        for action in sends:
            target = config.targets[action.target]
            work = by_target.setdefault(
                target.name, TargetWork(target, [], secrets.get(target.name, {}))
            )
            work.pairs.append((action.fingerprint, action.item))
        engine = Engine(
            writer, parallelism, policy, progress, transport, fingerprint, should_stop=should_stop
        )
        report = asyncio.run(engine.run(list(by_target.values())))
        return report, run_id
    finally:
        if writer is not None:
            writer.close(
                removed=report.removed,
                accepted=report.accepted,
                already_absent=report.already_absent,
                failed=report.failed,
                rejected=report.rejected,
                not_sent=report.not_sent,
            )
        release(ledger_dir, lock)

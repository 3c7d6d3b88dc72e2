"""One refresh run: plan (no network), select, lock, read, record, unlock."""

from __future__ import annotations

import asyncio
import random
import secrets as secrets_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler import __version__
from reconciler.apply.client import RetryPolicy, Transport
from reconciler.apply.run import RunInfo, close_run, refuse_lost_head
from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, hold, open_storage, shared
from reconciler.ledger.records import FP_CHARS
from reconciler.ledger.store import Ledger, RunWriter, read_ledger
from reconciler.ledger.verify import LedgerBroken, ledger_problems
from reconciler.plan.model import Plan
from reconciler.refresh.engine import Progress, RefreshEngine, RefreshReport, RefreshWork
from reconciler.refresh.select import Selection, select

DEFAULT_MIN_AGE = timedelta(minutes=5)


@dataclass(frozen=True)
class RefreshRequest:
    states: tuple[str, ...]
    min_age: timedelta = DEFAULT_MIN_AGE
    sample: int | None = None
    seed: int | None = None  # makes --sample repeatable
    queue_window: timedelta = timedelta(hours=1)


def choose(plan: Plan, ledger: Ledger, request: RefreshRequest) -> Selection:
    # the ledger keys items by a fingerprint prefix (FP_CHARS); look each declared one up.
    # An item's time is its last record: the one that set its state, or a later read that
    # saw it (so a refresh that was interrupted, run again, goes on where it stopped)
    times: dict[str, str] = {}
    for action in plan.actions():
        status = ledger.items.get(action.fingerprint)
        if status is not None:
            read = ledger.read_at.get(action.fingerprint[:FP_CHARS], "")
            times[action.fingerprint] = max(status.ts, read)
    rng = random.Random(request.seed) if request.seed is not None else None
    return select(
        plan,
        times,
        request.states,
        request.min_age,
        datetime.now(UTC),
        request.sample,
        rng,
        request.queue_window,
    )


def run_refresh(
    config: Config,
    plan: Plan,
    selection: Selection,
    secrets: dict[str, dict[str, str]],
    info: RunInfo,
    key: bytes | None = None,
    parallelism: int = 8,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
    transport: Transport | None = None,
    should_stop: Callable[[], bool] | None = None,
    lock_timeout: float = 0.0,
    finishing: Callable[[], None] | None = None,
) -> tuple[RefreshReport, str]:
    """Read the selected items and record what was seen. Returns the report, the run id.

    `key` is the ledger key (ledger.key_env) when the ledger is keyed. As for apply,
    under the lock the ledger must verify, still hold the plan's head and be the ledger
    the selection was made from, else nothing is read.
    """
    ledger_dir = config.ledger_dir
    if not plan.ledger.exists:
        raise ReconcilerError("there is no ledger yet: nothing was ever sent to read back")
    run_id = secrets_module.token_hex(6)
    storage = open_storage(config)
    report = RefreshReport()
    try:
        with hold(
            config, storage, "refresh", info.who, run_id, sorted(selection.pairs), lock_timeout
        ) as held:
            now = read_ledger(ledger_dir, key, storage=storage)
            problems = ledger_problems(now, git_report(config))
            if problems:
                raise LedgerBroken(problems, "nothing was read")
            then = plan.ledger
            refuse_lost_head(now, then.head)
            # a shared ledger moves with runs on other targets; a read records what it saw
            # when it saw it, so there only the ledger itself must be the same
            if (now.lineage, now.serial, now.digest) != (
                then.lineage,
                then.serial,
                then.digest,
            ) and (not shared(config) or now.lineage != then.lineage):
                raise ReconcilerError(
                    "the ledger changed while refresh was choosing what to read (another run "
                    "finished first); nothing was read. Run reconcile refresh again"
                )
            writer = RunWriter(
                ledger_dir,
                run_id,
                {
                    "operation": "refresh",
                    "who": info.who,
                    "commit": info.commit,
                    "tool_version": __version__,
                    **held.info,
                    "items": selection.count,
                    "targets": {
                        name: config.targets[name].account for name in sorted(selection.pairs)
                    },
                },
                key=key,
                after=now.heads,
                guard=held.guard,
                storage=storage,
            )
            works = _works(config, plan, selection, secrets)
            engine = RefreshEngine(writer, parallelism, policy, progress, transport, should_stop)
            try:
                report = asyncio.run(engine.run(works))
            finally:
                if finishing is not None:
                    finishing()  # e.g. no more interrupts: the records are being closed
                total = report.total()
                close_run(
                    writer,
                    confirmed=total.confirmed,
                    still_absent=total.still_absent,
                    drifted=total.drifted,
                    queued=total.queued,
                    unverified=total.unverified,
                    not_read=total.not_read,
                )
            return report, run_id
    finally:
        close_storage(storage)


def _works(
    config: Config, plan: Plan, selection: Selection, secrets: dict[str, dict[str, str]]
) -> Sequence[RefreshWork]:
    states = {a.fingerprint: a.state for a in plan.actions()}
    return [
        RefreshWork(
            config.targets[name],
            pairs,
            {fp: states[fp] for fp, _ in pairs},
            secrets.get(name, {}),
            selection.queued,
        )
        for name, pairs in sorted(selection.pairs.items())
    ]

"""Where a config's ledger lives (files in a folder, or PostgreSQL), and holding it for
a run that writes: the lock file, or the leases of the run's targets.

The file ledger is the default; `ledger: {backend: postgres, dsn_env: NAME}` keeps it in
PostgreSQL (reconciler.ledger.pg). The CLI reads the DSN from NAME into Config.ledger_dsn:
the core never reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.files import FileStorage
from reconciler.ledger.gitcheck import GitReport, committed_problems
from reconciler.ledger.header import parse_header
from reconciler.ledger.lock import acquire_waiting, release, retry_while_held
from reconciler.ledger.lock import guard as lock_guard
from reconciler.ledger.storage import Storage

POSTGRES = "postgres"


def shared(config: Config) -> bool:
    """Whether the ledger is in PostgreSQL (shared by runners, held by leases)."""
    return config.ledger_backend == POSTGRES


def open_storage(config: Config) -> Storage:
    """The config's ledger storage (for PostgreSQL: connected on first use)."""
    if not shared(config):
        return FileStorage(config.ledger_dir)
    if not config.ledger_dsn:
        raise ReconcilerError(
            f"ledger.dsn_env names {config.ledger_dsn_env}, which is not set: the "
            "PostgreSQL ledger's connection string is read from it"
        )
    from reconciler.ledger.pg.storage import PgStorage

    return PgStorage(config.ledger_dsn, config.ledger_schema)


def close_storage(storage: Storage) -> None:
    close = getattr(storage, "close", None)
    if callable(close):
        close()


def where(config: Config) -> str:
    """The ledger as messages name it (never the DSN's password)."""
    if not shared(config):
        return config.ledger_dir.name
    from reconciler.ledger.pg.connect import masked_dsn

    return f"postgres ({masked_dsn(config.ledger_dsn or '')}, schema {config.ledger_schema})"


def git_report(config: Config) -> GitReport:
    """The file ledger against what git committed; a PostgreSQL ledger is not in git."""
    if shared(config):
        return GitReport()
    return committed_problems(config.root, config.ledger_dir)


@dataclass
class Hold:
    """What a writing run holds: `guard` runs before each request; `info` goes into its
    run record (the lock id, or the leases' fencing tokens by target)."""

    guard: Callable[[], None]
    info: dict[str, Any] = field(default_factory=dict)


@contextmanager
def hold(
    config: Config,
    storage: Storage,
    operation: str,
    who: str,
    run_id: str,
    targets: Sequence[str],
    timeout: float = 0.0,
) -> Iterator[Hold]:
    """The lock file (files), or the leases of `targets` (PostgreSQL; the ledger's header
    must exist), for the duration of a run; released when it ends. Another run's lock or
    lease is waited for up to `timeout` seconds (--lock-timeout)."""
    if not shared(config):
        lock = acquire_waiting(config.ledger_dir, operation, who, run_id, timeout)
        try:
            yield Hold(lock_guard(config.ledger_dir, lock), {"lock": lock.id})
        finally:
            release(config.ledger_dir, lock)
        return
    from reconciler.ledger.pg.leases import LeaseHeld, LeaseKeeper, take
    from reconciler.ledger.pg.leases import release as give_back
    from reconciler.ledger.pg.storage import PgStorage

    assert isinstance(storage, PgStorage)
    line = storage.read_header()
    if line is None:
        raise ReconcilerError("there is no ledger in PostgreSQL yet")
    lineage = parse_header(line, "ledger_header").lineage
    leases = retry_while_held(
        lambda: take(storage, lineage, targets, operation, who, run_id, config.lease_seconds),
        LeaseHeld,
        timeout,
        lambda exc, waited: ReconcilerError(f"{exc} (waited {waited:.0f} s: --lock-timeout)"),
    )
    tokens = sorted(lease.token for lease in leases)
    storage.fence = tokens
    keeper = LeaseKeeper(storage.dsn, storage.schema, leases, config.lease_seconds)
    try:
        yield Hold(keeper.check, {"leases": {lease.target: lease.token for lease in leases}})
    finally:
        keeper.stop()
        storage.fence = []
        try:
            give_back(storage, tokens)
        except ReconcilerError:
            pass  # the database is unreachable: the leases expire by themselves

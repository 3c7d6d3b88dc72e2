"""Breaking a lock, recorded: the ledger says who broke which lock, when, and whose."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.ledger.files import FileStorage
from reconciler.ledger.lock import LockInfo, _alive, check_breakable, force_unlock, read_lock
from reconciler.ledger.storage import Storage
from reconciler.ledger.writer import RunWriter

if TYPE_CHECKING:
    from reconciler.ledger.pg.leases import Lease


def break_lock(
    ledger_dir: Path, lock_id: str, who: str, key: bytes | None
) -> tuple[LockInfo, bool]:
    """Remove the lock `lock_id` and record it in the ledger first (an `unlock` record
    in a run of its own); refuses a holder alive on this host. Returns the lock broken
    and whether it was recorded (False only when there is no ledger to record it in:
    the run died before creating one)."""
    current = read_lock(ledger_dir)
    if current is None:
        raise ReconcilerError("the ledger is not locked")
    check_breakable(current, lock_id)
    recorded = False
    if FileStorage(ledger_dir).read_header() is not None:
        writer = RunWriter(
            ledger_dir,
            secrets.token_hex(6),
            {"operation": "unlock", "who": who, "tool_version": __version__},
            key=key,
        )
        writer.unlock(
            current.id,
            who,
            socket.gethostname(),
            {
                "run": current.run,
                "operation": current.operation,
                "who": current.who,
                "host": current.host,
                "pid": current.pid,
                "created": current.created,
            },
        )
        writer.close()
        recorded = True
    force_unlock(ledger_dir, lock_id)
    return current, recorded


def break_lease(storage: Storage, token: int, who: str, key: bytes | None) -> Lease:
    """Remove the lease with fencing token `token` (PostgreSQL), recorded first in the
    ledger (an `unlock` record naming the lease and its holder, in a run of its own);
    refuses a holder alive on this host. From then on the database refuses every record
    stamped with that token."""
    from reconciler.ledger.pg.leases import drop, find
    from reconciler.ledger.pg.storage import PgStorage

    assert isinstance(storage, PgStorage)
    lease = find(storage, token)
    if lease is None:
        raise ReconcilerError(f"no lease has the token {token}; nothing was changed")
    check_lease_breakable(lease)
    writer = RunWriter(
        Path("ledger"),
        secrets.token_hex(6),
        {"operation": "unlock", "who": who, "tool_version": __version__},
        key=key,
        storage=storage,
    )
    writer.unlock(f"lease:{lease.token}", who, socket.gethostname(), lease.as_record())
    writer.close()
    drop(storage, token)
    return lease


def check_lease_breakable(lease: Lease) -> None:
    if lease.host == socket.gethostname() and _alive(lease.pid):
        raise ReconcilerError(
            f"the lease is held by process {lease.pid} on this host, which is still running: "
            "it is not stale. Stop that run first (or wait for it); nothing was changed"
        )

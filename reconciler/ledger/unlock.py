"""Breaking a lock, recorded: the ledger says who broke which lock, when, and whose."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.ledger.files import FileStorage
from reconciler.ledger.lock import LockInfo, check_breakable, force_unlock, read_lock
from reconciler.ledger.writer import RunWriter


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

"""One writer at a time: a lock file created atomically beside the ledger.

The lock file is never part of the ledger's history (it is gitignored). It says who
holds it so a refusal can tell the user exactly what to do.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.inputs import create_exclusive

T = TypeVar("T")
E = TypeVar("E", bound=Exception)

LOCK_NAME = ".lock"
# Written beside the lock: the user's repository has no ignore rule of ours, and a lock
# committed after a killed apply would lock out every later checkout.
GITIGNORE = ".gitignore"


@dataclass(frozen=True)
class LockInfo:
    id: str
    operation: str
    who: str
    host: str
    pid: int
    created: str
    version: str
    run: str | None = None  # the run id of the apply holding it (its run file's suffix)

    def describe(self) -> str:
        return (
            f"ID: {self.id}\n  Operation: {self.operation}\n  Run: {self.run or '-'}\n"
            f"  Who: {self.who}\n"
            f"  PID: {self.pid}\n  Created: {self.created}\n  Version: {self.version}"
        )

    def looks_stale(self) -> bool:
        """True when the holder ran on this host and its process is gone."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


class LockHeld(ReconcilerError):
    def __init__(self, info: LockInfo | None, path: Path, waited: float = 0.0) -> None:
        self.info = info
        if info is None:
            text = f"the ledger is locked ({path} exists but cannot be read)"
        else:
            hint = ""
            if info.looks_stale():
                hint = f"\nThe process {info.pid} that took it is gone on this host: it is stale."
            after = f" (waited {waited:.0f} s: --lock-timeout)" if waited else ""
            text = (
                f"the ledger is locked by another run{after}; nothing was sent.\n"
                f"Lock Info:\n  {info.describe()}{hint}\n"
                f"If you are sure no other run is active: reconcile ledger unlock {info.id}"
            )
        super().__init__(text)


def lock_path(ledger_dir: Path) -> Path:
    return ledger_dir / LOCK_NAME


def read_lock(ledger_dir: Path) -> LockInfo | None:
    path = lock_path(ledger_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise LockHeld(None, path) from exc


def acquire(ledger_dir: Path, operation: str, who: str, run: str | None = None) -> LockInfo:
    """Create the lock or raise LockHeld. Atomic: O_CREAT | O_EXCL."""
    ledger_dir.mkdir(parents=True, exist_ok=True)
    info = LockInfo(
        id=secrets.token_hex(8),
        operation=operation,
        who=who,
        host=socket.gethostname(),
        pid=os.getpid(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        version=__version__,
        run=run,
    )
    ignore = ledger_dir / GITIGNORE
    if not os.path.lexists(ignore):
        # never through a link: a dangling one committed here would write elsewhere
        with os.fdopen(create_exclusive(ignore), "w", encoding="utf-8") as handle:
            handle.write(f"{LOCK_NAME}\n")
    path = lock_path(ledger_dir)
    # Written whole under a temporary name, then linked into place: link() fails when
    # the lock exists, and a kill can never leave a lock file without its content.
    tmp = ledger_dir / f".lock.{info.id}.tmp"
    with os.fdopen(create_exclusive(tmp), "w", encoding="utf-8") as handle:
        json.dump(asdict(info), handle)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise LockHeld(read_lock(ledger_dir), path) from None
    finally:
        tmp.unlink(missing_ok=True)
    return info


def acquire_waiting(
    ledger_dir: Path,
    operation: str,
    who: str,
    run: str | None = None,
    timeout: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> LockInfo:
    """`acquire`, trying again for up to `timeout` seconds while another run holds the
    lock (Terraform's -lock-timeout). A lock that cannot be read is never waited for."""

    def gave_up(exc: LockHeld, waited: float) -> LockHeld:
        return LockHeld(exc.info, lock_path(ledger_dir), waited)

    return retry_while_held(
        lambda: acquire(ledger_dir, operation, who, run),
        LockHeld,
        timeout,
        gave_up,
        waitable=lambda exc: exc.info is not None,
        sleep=sleep,
        clock=clock,
    )


def retry_while_held(
    attempt: Callable[[], T],
    held: type[E],
    timeout: float,
    gave_up: Callable[[E, float], Exception],
    waitable: Callable[[E], bool] = lambda exc: True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`attempt()` again while it raises `held`, for up to `timeout` seconds: waits of
    0.1 s doubling to 2 s, with jitter so two waiting runs do not retry in step. After the
    timeout, `gave_up(exc, seconds waited)` is raised (the plain error when timeout is 0)."""
    start = clock()
    wait = 0.1
    while True:
        try:
            return attempt()
        except held as exc:
            left = timeout - (clock() - start)
            if left <= 0 or not waitable(exc):
                if timeout <= 0:
                    raise
                raise gave_up(exc, clock() - start) from None
            sleep(min(left, wait * random.uniform(0.8, 1.2)))
            wait = min(2.0, wait * 2)


def release(ledger_dir: Path, info: LockInfo) -> None:
    """Remove the lock if it is still ours."""
    current = read_lock(ledger_dir)
    if current is not None and current.id == info.id:
        lock_path(ledger_dir).unlink(missing_ok=True)


class LockBroken(ReconcilerError):
    """The lock this run took is gone or was replaced while it ran."""


def guard(ledger_dir: Path, info: LockInfo) -> Callable[[], None]:
    """A check to run before each request: raises LockBroken once the lock file is not
    the one `info` was taken with (removed by `ledger unlock`, or another run's).

    Cheap (one stat): the lock file is linked into place whole, so it keeps its inode
    for as long as it is this run's.
    """
    path = lock_path(ledger_dir)
    current = read_lock(ledger_dir)
    if current is None or current.id != info.id:
        raise LockBroken("the ledger lock was taken from this run before it sent anything")
    st = os.stat(path)
    mine = (st.st_dev, st.st_ino)

    def check() -> None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != mine:
            raise LockBroken(
                "the ledger lock was broken while this apply ran (`reconcile ledger unlock`, "
                "or another run took it): stopped before sending the next request. Requests "
                "already sent are recorded; run `reconcile plan` to see what is left"
            )

    return check


def check_breakable(current: LockInfo, lock_id: str) -> None:
    """Refuse a wrong ID, and a holder alive on this host."""
    if current.id != lock_id:
        raise ReconcilerError(
            f"lock ID {lock_id} does not match the lock held ({current.id}); nothing was changed"
        )
    if current.host == socket.gethostname() and _alive(current.pid):
        raise ReconcilerError(
            f"the lock is held by process {current.pid} on this host, which is still running: "
            f"it is not stale. Stop that run first (or wait for it); nothing was changed"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def force_unlock(ledger_dir: Path, lock_id: str) -> LockInfo:
    """Remove the lock (after check_breakable); the caller records the break first."""
    current = read_lock(ledger_dir)
    if current is None:
        raise ReconcilerError("the ledger is not locked")
    check_breakable(current, lock_id)
    lock_path(ledger_dir).unlink(missing_ok=True)
    return current

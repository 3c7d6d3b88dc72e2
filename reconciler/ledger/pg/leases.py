"""Leases: one per (lineage, target), so runs on different targets never wait for
each other, and a run that dies loses its targets by itself.

A run takes the leases of every target it will write about, all or none, in one
transaction (`take`): a row per target in ledger_leases, holding who took it, where
(host, pid), the run id, since when, until when, and a fencing token, a number from a
sequence that only grows. An expired lease is taken over: its row gets the new holder
and a new token. While the run is alive a thread renews its leases every third of their
term (`LeaseKeeper`); once a renewal finds a token gone, or the term passed without one,
the run's guard stops it before its next request. And whatever the run believes, its
records carry its tokens and the database refuses any whose token is not live
(reconciler.ledger.pg.schema): a run paused past its term (a stopped VM, a partition)
cannot append after another took over.

Row locks, not advisory locks: `pg_try_advisory_lock` lasts as long as the session, so a
runner cut off behind a partition keeps it while the server keeps its connection, and
it names no holder; a row says who holds what until when, expires without anyone's help,
and its token lets the database itself refuse a stale writer.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from reconciler.errors import ReconcilerError
from reconciler.ledger.lock import LockBroken
from reconciler.ledger.pg.storage import PgStorage

_COLUMNS = "lineage, target, token, operation, who, host, pid, run, since, expires"


@dataclass(frozen=True)
class Lease:
    lineage: str
    target: str
    token: int
    operation: str
    who: str
    host: str
    pid: int
    run: str
    since: str
    expires: str

    def describe(self) -> str:
        return (
            f"Target: {self.target}\n  Token: {self.token}\n  Operation: {self.operation}\n"
            f"  Run: {self.run}\n  Who: {self.who}\n  Host: {self.host}\n  PID: {self.pid}\n"
            f"  Since: {self.since}\n  Expires: {self.expires}"
        )

    def as_record(self) -> dict[str, Any]:
        """What an unlock record says of the lease it broke."""
        return {
            "target": self.target,
            "token": self.token,
            "run": self.run,
            "operation": self.operation,
            "who": self.who,
            "host": self.host,
            "pid": self.pid,
            "created": self.since,
        }


def _lease(row: Sequence[Any]) -> Lease:
    values = list(row)
    for i in (8, 9):
        if isinstance(values[i], datetime):
            values[i] = values[i].isoformat(timespec="seconds")
    return Lease(*values)


class LeaseHeld(ReconcilerError):
    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        super().__init__(
            f"the target {lease.target} is leased by another run; nothing was sent.\n"
            f"Lease Info:\n  {lease.describe()}\n"
            "The lease is renewed while that run is alive; if it died, the lease expires "
            "by itself and the next run proceeds.\n"
            f"If you are sure no other run is active: reconcile ledger unlock {lease.token}"
        )


def take(
    storage: PgStorage,
    lineage: str,
    targets: Sequence[str],
    operation: str,
    who: str,
    run: str,
    seconds: int,
) -> list[Lease]:
    """The leases of `targets`, all or none; raises LeaseHeld naming a live holder."""
    conn = storage.conn
    taken: list[Lease] = []
    try:
        with conn.transaction():
            for target in sorted(set(targets)):  # one order: two runs never deadlock
                row = conn.execute(
                    storage.q(
                        "INSERT INTO {s}.ledger_leases AS l (" + _COLUMNS + ") "
                        "VALUES (%s, %s, nextval('{s}.ledger_fence'), %s, %s, %s, %s, %s, "
                        "clock_timestamp(), clock_timestamp() + make_interval(secs => %s)) "
                        "ON CONFLICT (lineage, target) DO UPDATE SET token = EXCLUDED.token, "
                        "operation = EXCLUDED.operation, who = EXCLUDED.who, "
                        "host = EXCLUDED.host, pid = EXCLUDED.pid, run = EXCLUDED.run, "
                        "since = EXCLUDED.since, expires = EXCLUDED.expires "
                        "WHERE l.expires < clock_timestamp() RETURNING " + _COLUMNS
                    ),
                    [
                        lineage,
                        target,
                        operation,
                        who,
                        socket.gethostname(),
                        os.getpid(),
                        run,
                        seconds,
                    ],
                ).fetchone()
                if row is None:
                    holder = conn.execute(
                        storage.q(
                            "SELECT " + _COLUMNS + " FROM {s}.ledger_leases "
                            "WHERE lineage = %s AND target = %s"
                        ),
                        [lineage, target],
                    ).fetchone()
                    raise (
                        LeaseHeld(_lease(holder))
                        if holder
                        else ReconcilerError(
                            f"the lease of {target} could not be taken; nothing was sent"
                        )
                    )
                taken.append(_lease(row))
    except psycopg.Error as exc:
        raise storage.error(exc) from None
    return taken


def release(storage: PgStorage, tokens: Sequence[int]) -> None:
    """Give back leases that are still ours (a lease taken over is not touched)."""
    if tokens:
        storage.execute("DELETE FROM {s}.ledger_leases WHERE token = ANY(%s)", [list(tokens)])


def list_leases(storage: PgStorage) -> list[Lease]:
    if not storage.installed():
        return []
    rows = storage.execute(
        "SELECT " + _COLUMNS + " FROM {s}.ledger_leases ORDER BY lineage, target"
    ).fetchall()
    return [_lease(r) for r in rows]


def expired(storage: PgStorage, token: int) -> bool:
    row = storage.execute(
        "SELECT expires < clock_timestamp() FROM {s}.ledger_leases WHERE token = %s", [token]
    ).fetchone()
    return bool(row and row[0])


def find(storage: PgStorage, token: int) -> Lease | None:
    if not storage.installed():
        return None
    row = storage.execute(
        "SELECT " + _COLUMNS + " FROM {s}.ledger_leases WHERE token = %s", [token]
    ).fetchone()
    return _lease(row) if row else None


def drop(storage: PgStorage, token: int) -> bool:
    """Remove the lease with `token` (a forced unlock); False when it was gone."""
    cur = storage.execute("DELETE FROM {s}.ledger_leases WHERE token = %s", [token])
    return bool(cur.rowcount)


class LeaseKeeper:
    """Renews a run's leases on a connection of its own, every third of their term.

    `check` (the writer's guard) raises LockBroken once a lease is known lost, or once a
    full term passed since the last renewal that succeeded (this process was paused, or
    the database unreachable): the database would refuse the records anyway.
    """

    def __init__(
        self,
        dsn: str,
        schema: str,
        leases: Sequence[Lease],
        seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = [lease.token for lease in leases]
        self.targets = {lease.token: lease.target for lease in leases}
        self.seconds = seconds
        self._clock = clock
        self._renewed = clock()
        self.lost: str | None = None
        self._stop = threading.Event()
        self._storage = PgStorage(dsn, schema)
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            started = self._clock()
            try:
                rows = self._storage.execute(
                    "UPDATE {s}.ledger_leases SET expires = clock_timestamp() + "
                    "make_interval(secs => %s) WHERE token = ANY(%s) RETURNING token",
                    [self.seconds, self.tokens],
                ).fetchall()
            except ReconcilerError:
                self._storage.close()  # reconnect on the next try
                continue
            live = {r[0] for r in rows}
            gone = [self.targets[t] for t in self.tokens if t not in live]
            if gone:
                self.lost = (
                    f"the lease of {', '.join(sorted(gone))} was taken over or broken while "
                    "this run was active"
                )
                return
            self._renewed = started

    def check(self) -> None:
        if self.lost is None and self._clock() - self._renewed >= self.seconds:
            self.lost = (
                f"this run's leases were not renewed for {self.seconds} s (their term): "
                "another run may hold them now"
            )
        if self.lost is not None:
            raise LockBroken(
                f"{self.lost}: stopped before sending the next request. Requests already "
                "sent are recorded; run `reconcile plan` to see what is left"
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._storage.close()

"""PgStorage: the ledger's Storage (reconciler.ledger.storage) over PostgreSQL tables.

A part is a row of ledger_parts and its records are rows of ledger_records numbered
from 1, as the lines of a run file are; a record's bytes are exactly the file ledger's
line, so the chain, the fold and `ledger verify` are the file ledger's own code.

`append` is one INSERT of every line it is given, committed before it returns (an
autocommit statement: PostgreSQL's commit is durable, as an fsync is for files). Each row
carries the fencing tokens of the run's leases (`fence`); the database refuses rows
whose tokens are no longer live (reconciler.ledger.pg.schema).

Reads see the ledger as it was when `parts` was last called: records are append-only, so
a part read up to the line count seen then is the same part whatever is appended
meanwhile (the fold of a ledger other runs are writing to is consistent).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from reconciler.errors import ReconcilerError
from reconciler.ledger.lock import LockBroken
from reconciler.ledger.pg.connect import connect, mask
from reconciler.ledger.pg.schema import APPEND_ONLY, FENCED, ddl

CHUNK = 20_000  # rows per read query, and per insert statement on import


class Fenced(LockBroken):
    """The database refused a record: the run's lease is no longer live."""


class PgStorage:
    """A ledger in one PostgreSQL schema (see the module docstring)."""

    def __init__(self, dsn: str, schema: str = "reconciler", fence: Sequence[int] = ()) -> None:
        self.dsn = dsn
        self.schema = schema
        self.fence: list[int] = list(fence)
        self._conn: psycopg.Connection[Any] | None = None
        self._seen: dict[str, tuple[bytes | None, bytes | None, int]] = {}

    # -- plumbing ---------------------------------------------------------------------
    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.dsn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def q(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(s=sql.Identifier(self.schema))

    def execute(self, text: str, params: Sequence[Any] = (), binary: bool = False) -> Any:
        """Run one statement; database errors become one line, the DSN masked."""
        try:
            return self.conn.execute(self.q(text), params, binary=binary)
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def error(self, exc: psycopg.Error) -> ReconcilerError:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        text = mask(text, self.dsn)
        if exc.sqlstate == FENCED:
            return Fenced(
                "the database refused this run's record: its lease was lost (expired, "
                f"taken over by another run, or broken by `reconcile ledger unlock`): {text}. "
                "Nothing more is sent; run `reconcile plan` to see what is left"
            )
        if exc.sqlstate == APPEND_ONLY:
            return ReconcilerError(f"the PostgreSQL ledger refused a change: {text}")
        return ReconcilerError(f"the PostgreSQL ledger ({self.where}): {text}")

    @property
    def where(self) -> str:
        from reconciler.ledger.pg.connect import masked_dsn

        return f"{masked_dsn(self.dsn)}, schema {self.schema}"

    def installed(self) -> bool:
        """Whether the ledger's tables exist."""
        row = self.execute(
            "SELECT to_regclass(%s) IS NOT NULL", [f"{self.schema}.ledger_records"]
        ).fetchone()
        return bool(row and row[0])

    def install(self) -> None:
        """Create the schema, tables, sequence and triggers when missing."""
        try:
            with self.conn.transaction():
                self.conn.execute(ddl(self.schema))  # type: ignore[call-overload]
        except psycopg.Error as exc:
            raise ReconcilerError(
                f"the PostgreSQL ledger's tables cannot be created ({self.where}): "
                f"{mask(str(exc).strip().splitlines()[0], self.dsn)}. An administrator can "
                "create them: reconcile ledger sql --grant-to ROLE"
            ) from None

    # -- Storage ------------------------------------------------------------------------
    def read_header(self) -> bytes | None:
        if not self.installed():
            return None
        row = self.execute("SELECT line FROM {s}.ledger_header", binary=True).fetchone()
        return bytes(row[0]) if row else None

    def create_header(self, line: bytes) -> None:
        if not self.installed():
            self.install()
        try:
            self.conn.execute(self.q("INSERT INTO {s}.ledger_header (line) VALUES (%s)"), [line])
        except psycopg.errors.UniqueViolation:
            raise ReconcilerError(f"a ledger already exists in PostgreSQL ({self.where})") from None
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def parts(self) -> list[str]:
        if not self.installed():
            self._seen = {}
            return []
        rows = self.execute(
            """
            SELECT p.name, f.line, l.line, coalesce(l.no, 0)
            FROM {s}.ledger_parts p
            LEFT JOIN LATERAL (SELECT line FROM {s}.ledger_records r
                WHERE r.part = p.name ORDER BY no LIMIT 1) f ON true
            LEFT JOIN LATERAL (SELECT no, line FROM {s}.ledger_records r
                WHERE r.part = p.name ORDER BY no DESC LIMIT 1) l ON true
            ORDER BY p.name
            """,
            binary=True,
        ).fetchall()
        self._seen = {
            name: (
                bytes(first) if first is not None else None,
                bytes(last) if last is not None else None,
                count,
            )
            for name, first, last, count in rows
        }
        return list(self._seen)

    def edge_lines(self, name: str) -> tuple[bytes | None, bytes | None]:
        if name not in self._seen:
            self.parts()
        first, last, _ = self._seen.get(name, (None, None, 0))
        return first, last

    def lines(self, name: str, warnings: list[str]) -> Iterator[tuple[int, bytes]]:
        seen = self._seen.get(name)
        upto = seen[2] if seen is not None else 2**31 - 1
        after = 0
        while after < upto:
            rows = self.execute(
                "SELECT no, line FROM {s}.ledger_records WHERE part = %s AND no > %s "
                "AND no <= %s ORDER BY no LIMIT %s",
                [name, after, upto, CHUNK],
                binary=True,
            ).fetchall()
            for no, line in rows:
                yield no, bytes(line)
            if len(rows) < CHUNK:
                return
            after = rows[-1][0]

    def create_part(self, name: str) -> PgPart:
        if not self.installed():
            self.install()
        try:
            self.conn.execute(
                self.q("INSERT INTO {s}.ledger_parts (name, fence) VALUES (%s, %s)"),
                [name, self.fence],
            )
        except psycopg.errors.UniqueViolation:
            raise ReconcilerError(f"the ledger already has a part named {name}") from None
        except psycopg.Error as exc:
            raise self.error(exc) from None
        return PgPart(self, name)

    def append_rows(self, name: str, start: int, lines: Sequence[bytes]) -> None:
        """Insert `lines` as rows start, start+1, ... of part `name`: one statement,
        committed when this returns."""
        self.execute(
            "INSERT INTO {s}.ledger_records (part, no, line, fence) "
            "SELECT %s, u.no, u.line, %s FROM unnest(%s::integer[], %s::bytea[]) AS u(no, line)",
            [name, self.fence, list(range(start, start + len(lines))), list(lines)],
        )


class PgPart:
    """One part being appended to: each append is one committed INSERT.

    An append with `durable=False` (grouped answers, which a kill may lose) is committed
    by a thread while the run goes on, so apply's event loop does not wait for the round
    trip; the next append or close waits for it first, so rows are committed in order
    and never with a gap. Once one fails, every later append fails the same way.
    """

    def __init__(self, storage: PgStorage, name: str) -> None:
        self.name = name
        self._storage = storage
        self._count = 0
        self._size = 0
        self._pending: threading.Thread | None = None
        self._failed: BaseException | None = None

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes, durable: bool = True) -> None:
        self._settle()
        lines = data.split(b"\n")
        if lines[-1] != b"":
            raise ValueError("append takes whole lines")
        lines.pop()
        start = self._count + 1
        self._count += len(lines)
        self._size += len(data)
        if durable:
            try:
                self._storage.append_rows(self.name, start, lines)
            except BaseException as exc:
                self._failed = exc
                raise
            return
        self._pending = threading.Thread(
            target=self._commit, args=(start, lines), name="ledger-append", daemon=True
        )
        self._pending.start()

    def _commit(self, start: int, lines: list[bytes]) -> None:
        try:
            self._storage.append_rows(self.name, start, lines)
        except BaseException as exc:  # raised in the caller's thread by _settle
            self._failed = exc

    def _settle(self) -> None:
        """Wait for a write still being committed; raise what failed."""
        if self._pending is not None:
            self._pending.join()
            self._pending = None
        if self._failed is not None:
            raise self._failed

    def close(self) -> None:
        """Wait for the last write (every other append is already committed)."""
        if self._pending is not None:
            self._pending.join()
            self._pending = None

"""What a ledger backend provides: durable appends, reading records back, a header.

The reader (reconciler.ledger.fold) and the writer (reconciler.ledger.writer) see the
ledger only through this interface; reconciler.ledger.files implements it with files.
A PostgreSQL backend implements the same: a "part" is then one run's rows, `append`
commits before it returns, and `lines` reads a run's rows in the order they were
appended. Ordering runs (the chain), ids and MACs stay in the reader, so both backends
hold byte-identical records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class Appender(Protocol):
    """One part being written."""

    name: str

    def append(self, data: bytes, durable: bool = True) -> None:
        """Add whole lines; durable (fsynced, or committed) when this returns. With
        `durable=False` (grouped answers to idempotent requests, which a kill may lose)
        the backend may finish the write while the caller goes on, but before the next
        append or close: the lines are never out of order or missing in the middle."""
        ...

    @property
    def size(self) -> int: ...

    def close(self) -> None: ...


class Storage(Protocol):
    def read_header(self) -> bytes | None:
        """The header line, or None when there is no ledger."""
        ...

    def create_header(self, line: bytes) -> None:
        """Write the header of a new ledger, all or nothing; refuse when one exists."""
        ...

    def parts(self) -> list[str]:
        """The names of every part of every run, in a stable order (not chain order)."""
        ...

    def edge_lines(self, name: str) -> tuple[bytes | None, bytes | None]:
        """The first and the last complete line of a part (None: it has none)."""
        ...

    def lines(self, name: str, warnings: list[str]) -> Iterator[tuple[int, bytes]]:
        """Every complete line of a part with its number; a torn last line is reported
        in `warnings` and skipped."""
        ...

    def create_part(self, name: str) -> Appender:
        """A new, empty part; refuses a name that exists."""
        ...

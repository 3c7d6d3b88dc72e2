"""The state ledger: append-only, hash-chained records of every deletion sent."""

from reconciler.ledger.store import (
    Header,
    ItemStatus,
    Ledger,
    RunWriter,
    create_ledger,
    read_ledger,
)

__all__ = ["Header", "ItemStatus", "Ledger", "RunWriter", "create_ledger", "read_ledger"]

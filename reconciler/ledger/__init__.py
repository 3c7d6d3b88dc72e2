"""The state ledger: append-only, chained (keyed when a key is set) records of every
deletion sent, folded in chain order."""

from reconciler.ledger.store import (
    Header,
    ItemStatus,
    Ledger,
    RunWriter,
    create_ledger,
    read_ledger,
)

__all__ = ["Header", "ItemStatus", "Ledger", "RunWriter", "create_ledger", "read_ledger"]

"""`ledger list`: every item declared or recorded, with its state, as rows (the CLI
renders them as a table or as JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.desired import DesiredState, Fingerprinter, Item
from reconciler.errors import ReconcilerError
from reconciler.ledger.fold import Ledger
from reconciler.ledger.records import FP_CHARS
from reconciler.states import PENDING


@dataclass(frozen=True)
class ListRow:
    """One item: declared (`item` set) or only recorded (orphaned: no manifest now)."""

    fingerprint: str
    state: str
    target: str
    updated: str | None  # when the record that set the state was written
    manifests: tuple[str, ...]
    item: Item | None

    @property
    def orphaned(self) -> bool:
        return self.item is None


def list_rows(desired: DesiredState, ledger: Ledger, fingerprint: Fingerprinter) -> list[ListRow]:
    """Declared items first (in declared order), then recorded items no manifest declares."""
    rows: list[ListRow] = []
    seen: set[str] = set()
    for d in desired:
        fp = fingerprint(d.item)
        seen.add(fp[:FP_CHARS])
        status = ledger.items.get(fp)
        rows.append(
            ListRow(
                fp,
                status.state if status else PENDING,
                d.item.target,
                status.ts if status else None,
                tuple(sorted({s.manifest for s in d.sources})),
                d.item,
            )
        )
    for fp, status in ledger.items.items():
        if fp not in seen:
            rows.append(ListRow(fp, status.state, status.target, status.ts, (), None))
    return rows


def check_manifests(known: Iterable[str], names: Sequence[str]) -> None:
    """Refuse a `--manifest` no manifest under specs/ is called (as `--target` does)."""
    have = set(known)
    for name in names:
        if name not in have:
            listed = ", ".join(sorted(have)) or "none"
            raise ReconcilerError(f"--manifest {name}: no such manifest (manifests: {listed})")


def filter_rows(
    rows: Iterable[ListRow],
    targets: Sequence[str] = (),
    states: Sequence[str] = (),
    manifests: Sequence[str] = (),
) -> list[ListRow]:
    return [
        r
        for r in rows
        if (not targets or r.target in targets)
        and (not states or r.state in states)
        and (not manifests or set(r.manifests) & set(manifests))
    ]

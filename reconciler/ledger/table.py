"""The item table the fold builds: each item's state and the record that set it.

Compact while the fold runs: items are named by 16-byte keys (the first 128 bits of their
fingerprint, as records hold them), kept as the bytes the records' item lists decode to,
one block per record, and every change the fold makes is logged as one operation per
record (these items now have this status), never one object per item. The first lookup
replays the log, in order, into an index (a dict of 16-byte keys to statuses); from then
on the table is that index. So reading a ledger costs no per-item work until someone asks
for an item, and `ledger verify` never does.

A fingerprint that is not 32 lowercase hex characters (a record edited by hand) is kept
as the text it is, so it never matches a real item, as before.
"""

from __future__ import annotations

import gc
import re
import struct
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from typing import TypeVar, overload

from reconciler.ledger.records import FP_CHARS

Key = bytes | str  # 16 bytes; or the text of a fingerprint that is not lowercase hex
Keys = bytes | list[Key]  # a block of 16-byte keys; or keys one by one
_T = TypeVar("_T")
_SPLITTERS: dict[int, struct.Struct] = {}  # keys in a block -> its splitter
_LOWER_HEX = re.compile(r"[0-9a-f]*")


@dataclass(slots=True)
class ItemStatus:
    """One item's folded state and the record that set it.

    Shared: every item of one record with the same outcome holds the same instance, so
    never change one. `conflict` is set when concurrent runs (merged branches) recorded
    different outcomes for the item: its state is then `unknown` and plan holds it.
    """

    state: str
    target: str
    ts: str
    run: str
    code: int | None = None
    message: str | None = None
    evidence: str | None = None
    conflict: str | None = None
    seg: int = -1  # the folded segment that set it (for conflict detection)
    n: int = 0  # the number of the record that set it, in its run

    @property
    def held(self) -> bool:
        """Never sent again by itself: a person decides (`reconcile ledger resolve`)."""
        return self.conflict is not None


def item_key(fingerprint: str) -> str:
    """The key an item has in the ledger: the first 128 bits of its fingerprint."""
    return fingerprint[:FP_CHARS]


def key_of(fp: str) -> Key:
    """The table's key for a fingerprint (or its 32-character prefix)."""
    if len(fp) >= FP_CHARS:
        short = fp[:FP_CHARS]
        try:
            raw = bytes.fromhex(short)
        except ValueError:
            return short
        if len(raw) == 16 and (short.islower() or short.isdigit()):
            return raw
        return short
    return fp


def keys_of(fps: list[str]) -> Keys:
    """The keys of a record's list of 32-character fingerprints."""
    joined = "".join(fps)
    if len(joined) == FP_CHARS * len(fps) and _LOWER_HEX.fullmatch(joined):
        return bytes.fromhex(joined)
    return [key_of(fp) if len(fp) == FP_CHARS else fp for fp in fps]


def split_keys(keys: Keys) -> list[Key] | tuple[bytes, ...]:
    """The keys of a block one by one (struct cuts them in C)."""
    if type(keys) is not bytes:
        return keys  # type: ignore[return-value]
    k = len(keys) // 16
    splitter = _SPLITTERS.get(k)
    if splitter is None:
        splitter = struct.Struct("16s" * k)
        if k <= 4096:
            _SPLITTERS[k] = splitter
    return splitter.unpack(keys)


def count_keys(keys: Keys) -> int:
    return len(keys) // 16 if type(keys) is bytes else len(keys)


def key_at(keys: Keys, pos: int) -> Key:
    if isinstance(keys, bytes):
        return keys[16 * pos : 16 * pos + 16]
    return keys[pos]


def keys_slice(keys: Keys, at: int, size: int) -> Keys:
    if at == 0 and size == count_keys(keys):
        return keys
    return keys[16 * at : 16 * (at + size)] if type(keys) is bytes else keys[at : at + size]


def text_of(key: Key) -> str:
    return key.hex() if type(key) is bytes else key  # type: ignore[return-value]


_WRITE = 0  # (_WRITE, keys, status or None: back to pending)
_UNKNOWN = 1  # (_UNKNOWN, keys, positions, status): see ItemTable.write_unknown


class ItemTable(Mapping[str, ItemStatus]):
    """Items by fingerprint prefix (records hold 128 bits); a full 64-hex fingerprint
    finds its item too. Iterating gives the 32-hex keys, in the order items were first
    recorded."""

    __slots__ = ("_index", "_log")

    def __init__(self) -> None:
        self._log: list[tuple[int, Keys, object, object]] | None = []
        self._index: dict[Key, ItemStatus] = {}

    # -- what the fold writes -----------------------------------------------------------
    @property
    def logging(self) -> bool:
        """Whether changes are still logged (no lookup has needed the index yet)."""
        return self._log is not None

    def write(self, keys: Keys, status: ItemStatus | None) -> None:
        """These items now have `status` (None: pending again, as if never recorded)."""
        if self._log is not None:
            self._log.append((_WRITE, keys, status, None))
        else:
            _apply_write(self._index, keys, status)

    def write_unknown(self, keys: Keys, positions: list[int], status: ItemStatus) -> None:
        """Intent items with no answer at the end of their segment are `unknown`, unless
        a later record of the same segment set them (status.seg, status.n)."""
        if self._log is not None:
            self._log.append((_UNKNOWN, keys, positions, status))
        else:
            _apply_unknown(self._index, keys, positions, status)

    def index(self) -> dict[Key, ItemStatus]:
        """The index (built from the log on first use): what lookups and the fold's
        checks of concurrent runs read and change."""
        log = self._log
        if log is not None:
            self._log = None
            collecting = gc.isenabled()
            gc.disable()  # millions of keys and no cycle (as in read_ledger)
            try:
                _replay(self._index, log)
            finally:
                if collecting:
                    gc.enable()
        return self._index

    # -- the mapping ----------------------------------------------------------------------
    def __getitem__(self, fingerprint: str) -> ItemStatus:
        found = self.get(fingerprint)
        if found is None:
            raise KeyError(fingerprint)
        return found

    @overload
    def get(self, fingerprint: str, default: None = None, /) -> ItemStatus | None: ...
    @overload
    def get(self, fingerprint: str, default: ItemStatus, /) -> ItemStatus: ...
    @overload
    def get(self, fingerprint: str, default: _T, /) -> ItemStatus | _T: ...
    def get(self, fingerprint: str, default: object = None, /) -> object:
        index = self._index if self._log is None else self.index()
        return index.get(key_of(fingerprint), default)

    def get_key(self, key: bytes) -> ItemStatus | None:
        """By the 16 bytes of the key (no conversion from hex)."""
        index = self._index if self._log is None else self.index()
        return index.get(key)

    def __contains__(self, fingerprint: object) -> bool:
        return isinstance(fingerprint, str) and self.get(fingerprint) is not None

    def __iter__(self) -> Iterator[str]:
        return map(text_of, self.index())

    def keyed(self) -> Iterator[tuple[Key, ItemStatus]]:
        """(key, status) of every item, by the table's own keys (16 bytes, mostly)."""
        return iter(self.index().items())

    def items(self) -> ItemsView[str, ItemStatus]:
        return _Items(self)

    def values(self) -> ValuesView[ItemStatus]:
        return _Values(self)

    def __len__(self) -> int:
        return len(self.index())

    def __repr__(self) -> str:
        return f"ItemTable({len(self)} items)"


class _Items(ItemsView[str, ItemStatus]):
    """(32-hex key, status) straight from the index (no lookup per item)."""

    def __init__(self, table: ItemTable) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[tuple[str, ItemStatus]]:
        for key, status in self._table.index().items():
            yield text_of(key), status


class _Values(ValuesView[ItemStatus]):
    def __init__(self, table: ItemTable) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[ItemStatus]:
        return iter(self._table.index().values())


_DONE: tuple[int, Keys, object, object] = (_WRITE, b"", None, None)


def _replay(index: dict[Key, ItemStatus], log: list[tuple[int, Keys, object, object]]) -> None:
    for i, (op, keys, a, b) in enumerate(log):
        if op == _WRITE:
            _apply_write(index, keys, a)  # type: ignore[arg-type]
        else:
            _apply_unknown(index, keys, a, b)  # type: ignore[arg-type]
        log[i] = _DONE  # the blocks go as they are replayed


def _apply_write(index: dict[Key, ItemStatus], keys: Keys, status: ItemStatus | None) -> None:
    if status is None:
        pop = index.pop
        for key in split_keys(keys):
            pop(key, None)
    elif type(keys) is bytes and len(keys) == 16:
        index[keys] = status
    else:
        index.update(dict.fromkeys(split_keys(keys), status))


def _apply_unknown(
    index: dict[Key, ItemStatus], keys: Keys, positions: list[int], status: ItemStatus
) -> None:
    get = index.get
    seg, n = status.seg, status.n
    for pos in positions:
        key = key_at(keys, pos)
        current = get(key)
        if current is not None and current.seg == seg and current.n > n:
            continue
        index[key] = status

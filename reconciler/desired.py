"""The desired state: every thing that must be absent, as one canonical item each.

An item is (target, locator, removal). Its canonical bytes do not depend on key order,
YAML formatting, or which manifest declared it, so the same item declared twice is one
item with two sources, and the ledger can key it by fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reconciler.mac import HmacSha256
from reconciler.spill import RUN_ITEMS, Sorter, SpillDir

# One encoder, made once: json.dumps with options builds a new one on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: one spelling for one value."""
    return _CANONICAL.encode(value)


@dataclass(frozen=True, slots=True)
class Item:
    """One thing that must not exist at one target.

    `locator` says where (which profile or user), `removal` says what goes. Both are
    plain JSON-able mappings; `removal["kind"]` names the kind of removal.
    """

    target: str
    vendor: str
    locator: dict[str, Any]
    removal: dict[str, Any]

    @property
    def kind(self) -> str:
        kind: str = self.removal["kind"]
        return kind

    def canonical(self) -> bytes:
        return canonical_json([self.target, self.locator, self.removal]).encode("utf-8")

    @property
    def irreversible_profile_deletion(self) -> bool:
        return self.kind == "profile"


@dataclass(frozen=True, slots=True)
class Source:
    """Where an item was declared: the manifest, its file, and the line or CSV row."""

    manifest: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line} ({self.manifest})"


KEYED = "hmac-sha256"
SALTED = "sha256-salted"


@dataclass(frozen=True)
class Fingerprinter:
    """Turns an item into the hex digest the ledger keys it by; never reversible.

    With a key: HMAC-SHA256(key, canonical). Without: SHA-256(salt || canonical), the
    salt random per ledger and stored in it (guessable for emails and phones).
    """

    scheme: str
    secret: bytes = field(repr=False)
    # the keyed scheme's HMAC with the key's blocks hashed once (reconciler.mac)
    _mac: HmacSha256 | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.scheme == KEYED:
            object.__setattr__(self, "_mac", HmacSha256(self.secret))

    def __reduce__(self) -> tuple[type[Fingerprinter], tuple[str, bytes]]:
        # copied or pickled by its scheme and secret (hash states do not pickle)
        return (type(self), (self.scheme, self.secret))

    @classmethod
    def keyed(cls, key: bytes) -> Fingerprinter:
        return cls(KEYED, key)

    @classmethod
    def salted(cls, salt: bytes) -> Fingerprinter:
        return cls(SALTED, salt)

    @property
    def key_id(self) -> str:
        """A stable id of the key or salt that reveals nothing about it."""
        return hashlib.sha256(b"reconciler-key-id\x00" + self.secret).hexdigest()[:16]

    def of_bytes(self, canonical: bytes) -> str:
        mac = self._mac
        if mac is not None:
            return mac.hexdigest(canonical)  # HMAC-SHA256(secret, canonical)
        h = hashlib.sha256(self.secret)
        h.update(canonical)
        return h.hexdigest()

    def __call__(self, item: Item) -> str:
        return self.of_bytes(item.canonical())


@dataclass(slots=True)
class DesiredItem:
    item: Item
    sources: list[Source]


LINE_BITS = 32
SourceRefs = int | list[int]
"""Where an item was declared, packed: (index into a SourceTable << 32) | line; a list
when several places declare it."""


class SourceTable:
    """The (manifest, file) pairs items come from, so each item stores small ints.

    A million CSV rows share one entry; only the line differs.
    """

    def __init__(self) -> None:
        self._pairs: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}

    def pack(self, source: Source) -> int:
        pair = (source.manifest, source.file)
        index = self._index.get(pair)
        if index is None:
            index = self._index[pair] = len(self._pairs)
            self._pairs.append(pair)
        return (index << LINE_BITS) | source.line

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return self._pairs

    def split(self, ref: int) -> tuple[tuple[str, str], int]:
        """((manifest, file), line) of a packed ref, without making a Source."""
        return self._pairs[ref >> LINE_BITS], ref & ((1 << LINE_BITS) - 1)

    def unpack(self, ref: int) -> Source:
        manifest, file = self._pairs[ref >> LINE_BITS]
        return Source(manifest, file, ref & ((1 << LINE_BITS) - 1))

    def expand(self, refs: SourceRefs) -> list[Source]:
        if isinstance(refs, int):
            return [self.unpack(refs)]
        return [self.unpack(r) for r in refs]


# The C scanner JSONDecoder.__init__ sets (typeshed does not declare the attribute).
_scan: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


def load_canonical(canonical: bytes) -> Any:
    """`json.loads` of canonical bytes, which are compact JSON with no surrounding
    whitespace: the decoder's scanner alone."""
    text = canonical.decode("utf-8")
    value, end = _scan(text, 0)
    if end != len(text):  # pragma: no cover - canonical bytes are one JSON value
        raise ValueError("extra data after the canonical item")
    return value


def item_from_canonical(canonical: bytes, vendor: str) -> Item:
    """The item back from its canonical bytes (the desired state keeps only those)."""
    target, locator, removal = load_canonical(canonical)
    return Item(target, vendor, locator, removal)


def join_refs(first: SourceRefs, then: SourceRefs) -> SourceRefs:
    """The refs of one item declared in two runs: `first`'s, then `then`'s not yet
    among them (what `DesiredState.add_canonical` would have made of them in order)."""
    out = [first] if isinstance(first, int) else list(first)
    for ref in [then] if isinstance(then, int) else then:
        if ref not in out:
            out.append(ref)
    return out[0] if len(out) == 1 else out


class DesiredDigest:
    """`DesiredState.digest`, fed the canonical items in sorted order one at a time."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def add(self, canonical: bytes) -> None:
        self._h.update(len(canonical).to_bytes(4, "big"))
        self._h.update(canonical)

    def value(self, key: Fingerprinter) -> str:
        return key.of_bytes(self._h.digest())


Merged = tuple[bytes, int, SourceRefs]
"""(canonical bytes, first-declared position, source refs) of one desired item."""


class DesiredState:
    """Every desired item once, in first-declared order, with all its sources.

    Held compactly, for specs of millions of CSV rows: per item only its canonical bytes
    and packed source refs; items are rebuilt from the bytes when iterated.

    With `spill_at`, memory is bounded: once more than `spill_at` distinct items are held, they
    are sorted by their bytes and written out as runs (reconciler.spill), so are every
    RUN_ITEMS that follow, and the
    desired state is then read only through `merged()` (the runs merged, an item
    declared in several runs made one with all its sources, first-declared first).
    Below `spill_at` nothing changes: `entries` holds every item, in declared order.
    """

    def __init__(self, spill_at: int | None = None) -> None:
        self.entries: dict[bytes, SourceRefs] = {}
        self.sources = SourceTable()
        self.vendors: dict[str, str] = {}  # target -> vendor
        self.spill_at = spill_at
        self.spill: SpillDir | None = None
        self._runs: Sorter | None = None
        self._seq = 0  # items spilled so far: the first-declared position of the next
        self._dropped = False
        # entries held before a run is written: past spill_at (a plan of exactly
        # spill_at items stays in memory), then a run's worth each time
        self._limit = (spill_at or 0) + 1

    def add(self, item: Item, source: Source) -> None:
        self.add_canonical(item.canonical(), item.target, item.vendor, self.sources.pack(source))

    def add_canonical(self, key: bytes, target: str, vendor: str, ref: int) -> None:
        """`add` of an item given as its canonical bytes, its source packed by `sources`."""
        self.vendors[target] = vendor
        found = self.entries.get(key)
        if found is None:
            self.entries[key] = ref
            if self.spill_at is not None and len(self.entries) >= self._limit:
                self._spill()
        elif isinstance(found, int):
            if found != ref:
                self.entries[key] = [found, ref]
        elif ref not in found:
            found.append(ref)

    @property
    def spilled(self) -> bool:
        """Whether items went to disk: then only `merged()` reads them all."""
        return self._runs is not None

    @property
    def run_items(self) -> int:
        """Records a run of this spilled state (and of a plan made from it) buffers."""
        return min(self.spill_at or RUN_ITEMS, RUN_ITEMS)

    def _spill(self) -> None:
        if self._runs is None:
            self.spill = SpillDir()
            # from now on a run's worth at a time: the buffer stays fixed however many
            # items follow (before, up to spill_at were held: a plan that fits is made
            # in memory, which is faster)
            self._runs = Sorter(self.spill, self.run_items)
            self._limit = self.run_items
        base = self._seq
        for i, (key, refs) in enumerate(self.entries.items()):
            self._runs.add((key, base + i, refs))
        self._seq += len(self.entries)
        self.entries = {}

    def merged(self) -> Iterator[Merged]:
        """Every item once, sorted by its canonical bytes, with its first-declared
        position and all its sources (in declared order)."""
        if self._runs is None:
            order = sorted((k, i, r) for i, (k, r) in enumerate(self.entries.items()))
            yield from order
            return
        if self._dropped:
            raise RuntimeError("the spilled desired state was read and dropped")
        if self.entries:
            self._spill()
        self._runs.finish()
        previous: Merged | None = None
        for key, seq, refs in self._runs:
            if previous is not None and previous[0] == key:
                previous = (key, previous[1], join_refs(previous[2], refs))
                continue
            if previous is not None:
                yield previous
            previous = (key, seq, refs)
        if previous is not None:
            yield previous

    def drop_runs(self) -> None:
        """Remove the runs from disk once read (a plan of millions made them gigabytes):
        a spilled desired state is then read no more."""
        if self._runs is not None:
            self._runs.drop()
            self._dropped = True

    def __len__(self) -> int:
        return len(self.entries) if self._runs is None else sum(1 for _ in self.merged())

    def target_of(self, canonical: bytes) -> str:
        """The target of an entry, without rebuilding the item."""
        # canonical is ["<target>",...]: target names are plain ASCII (config schema)
        end = canonical.index(b'"', 2)
        return canonical[2:end].decode("ascii")

    def item(self, canonical: bytes) -> Item:
        return item_from_canonical(canonical, self.vendors[self.target_of(canonical)])

    def __iter__(self) -> Iterator[DesiredItem]:
        if self._runs is not None:
            for key, _, refs in sorted(self.merged(), key=lambda m: m[1]):
                yield DesiredItem(self.item(key), self.sources.expand(refs))
            return
        for key, refs in self.entries.items():
            yield DesiredItem(self.item(key), self.sources.expand(refs))

    def for_targets(self, names: Iterable[str]) -> DesiredState:
        wanted = set(names)
        subset = DesiredState()
        subset.sources = self.sources
        subset.vendors = self.vendors
        if self._runs is not None:
            for key, _, refs in sorted(self.merged(), key=lambda m: m[1]):
                if self.target_of(key) in wanted:
                    subset.entries[key] = refs
            return subset
        subset.entries = {k: v for k, v in self.entries.items() if self.target_of(k) in wanted}
        return subset

    def digest(self, key: Fingerprinter) -> str:
        """A digest of the sorted canonical items, keyed like fingerprints: changes iff
        the desired set changes, and cannot be tested against guessed values (a plain
        hash of a one-item set would be)."""
        h = DesiredDigest()
        if self._runs is not None:
            for canonical, _, _ in self.merged():
                h.add(canonical)
            return h.value(key)
        for canonical in sorted(self.entries):
            h.add(canonical)
        return h.value(key)

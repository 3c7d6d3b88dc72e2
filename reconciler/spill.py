"""Sorted runs on disk: an external sort for streams too large to hold in memory.

A plan over ten million items cannot keep one object per item. A `Sorter` keeps up to
`limit` records in memory; past that it sorts them and writes them out as a run, and
iterating it merges the runs (`heapq.merge`: sequential reads, one chunk per run in
memory). Records are tuples whose first element is the sort key, unique per record
(the merge then never compares the rest).

Runs hold raw identifiers (canonical items), and an encrypted source's plaintext is
never written to disk: every chunk is sealed with age (X25519 and ChaCha20-Poly1305) to
an identity generated for this process and held only in its memory, so a run left
behind by a killed process cannot be read by anyone. Runs live in a private temporary
directory (mode 0700), removed when the `SpillDir` is collected or the process exits.

Why runs and not SQLite as the spill store: the items arrive in no useful order, and a
B-tree keyed by their bytes or fingerprints takes them as random writes, which slow to
the disk's seek rate once the table outgrows its cache; sorted runs are written and
read sequentially, the merge keeps one chunk per run in memory, and Python's own sort
and marshal (in C) do the work, with nothing to tune.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import marshal
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import pyrage
from pyrage import x25519

CHUNK = 4096  # records sealed and written at a time
RUN_ITEMS = 250_000
"""Records a spilling stream holds in memory before it writes them out as a run: the
fixed buffer of a plan on disk, whatever its size."""
_LENGTH = 8


class SpillDir:
    """A private temporary directory of runs and the key that seals them. Removed when
    this object is collected or the process exits."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="reconciler-spill-")
        self._identity = x25519.Identity.generate()
        self._recipient = self._identity.to_public()
        self._count = 0
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.path, True)

    def new_run(self) -> str:
        self._count += 1
        return os.path.join(self.path, f"run-{self._count:06d}")

    def seal(self, chunk: list[Any]) -> bytes:
        sealed: bytes = pyrage.encrypt(marshal.dumps(chunk), [self._recipient])
        return sealed

    def open_chunk(self, sealed: bytes) -> list[Any]:
        chunk: list[Any] = marshal.loads(pyrage.decrypt(sealed, [self._identity]))
        return chunk

    def close(self) -> None:
        self._cleanup()


def write_run(spill: SpillDir, records: Iterable[Any]) -> str:
    """Write sorted `records` as a run; returns its path."""
    path = spill.new_run()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        if isinstance(records, list):
            chunks: Iterable[list[Any]] = (
                records[at : at + CHUNK] for at in range(0, len(records), CHUNK)
            )
        else:
            chunks = _chunks(iter(records))
        for chunk in chunks:
            sealed = spill.seal(chunk)
            handle.write(len(sealed).to_bytes(_LENGTH, "big"))
            handle.write(sealed)
    return path


def _chunks(records: Iterator[Any]) -> Iterator[list[Any]]:
    while True:
        chunk = list(itertools.islice(records, CHUNK))
        if not chunk:
            return
        yield chunk


def read_run(spill: SpillDir, path: str) -> Iterator[Any]:
    """A run's records, in order, one chunk in memory at a time."""
    with open(path, "rb") as handle:
        while True:
            head = handle.read(_LENGTH)
            if not head:
                return
            yield from spill.open_chunk(handle.read(int.from_bytes(head, "big")))


class Sorter:
    """Records in, sorted by their first element out; at most `limit` in memory.

    Add every record, then iterate (as often as needed: each pass reads the runs again).
    """

    def __init__(self, spill: SpillDir, limit: int) -> None:
        self.spill = spill
        self.limit = max(1, limit)
        self.buffer: list[Any] = []
        self.runs: list[str] = []
        self.count = 0
        self._sorted = False

    def add(self, record: Any) -> None:
        self.buffer.append(record)
        self.count += 1
        if len(self.buffer) >= self.limit:
            self._spill()

    def _spill(self) -> None:
        self.buffer.sort()
        self.runs.append(write_run(self.spill, self.buffer))
        self.buffer = []

    def finish(self, passes: int = 1) -> Sorter:
        """No more records: the rest goes to disk too when anything did (the memory is
        freed), else it is sorted in place. For a sorter read more than once (`passes`),
        several runs are merged into one now, so later passes read one file in order
        instead of merging again."""
        if self._sorted:
            return self
        if self.runs and self.buffer:
            self._spill()
        elif not self.runs:
            self.buffer.sort()
        self._sorted = True
        if passes > 1 and len(self.runs) > 1:
            merged = write_run(self.spill, heapq.merge(*self._readers()))
            for path in self.runs:
                os.unlink(path)
            self.runs = [merged]
        return self

    def drop(self) -> None:
        """Remove the runs: the sorter is read no more. (Called while another error may
        be on its way out: a run already gone, with its folder, is not one more.)"""
        for path in self.runs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.runs, self.buffer = [], []

    def _readers(self) -> list[Iterator[Any]]:
        return [read_run(self.spill, path) for path in self.runs]

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Any]:
        if not self._sorted:
            self.finish()
        if not self.runs:
            return iter(self.buffer)
        if len(self.runs) == 1:
            return read_run(self.spill, self.runs[0])
        return heapq.merge(*self._readers())

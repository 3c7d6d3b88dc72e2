"""The bytes of a saved plan, format 2: a framed binary file closed by a MAC.

    magic     8 bytes   89 'R' 'P' 'L' 'A' 'N' 0d 0a  (a text-mode copy or a JSON
                        reader fails at once)
    version   2 bytes   big-endian, 2
    header    4 bytes   big-endian length, then that many bytes of compact JSON (UTF-8)
    items     for each target of the header, in its order, `count` records sorted by
              fingerprint (so a fresh plan is compared with a merge, never a table):
                16 bytes  the fingerprint's first 128 bits (the ledger's item key)
                 1 byte   flags: state (bits 0-2), held (3), conflicted (4), `since`
                          follows (5); the other bits are 0
                 4 bytes  with bit 5 only: index into the header's `since` list
    mac       32 bytes  HMAC-SHA256 (or SHA-256 without a key: see plan.seal) of every
                        byte before it

17 bytes per item (21 for a drifted one). Reading never holds more than one chunk: the
MAC is checked over the whole file before the header is trusted, and again while the
items stream, so a file changed between the two reads is refused before anything is sent.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.errors import ReconcilerError
from reconciler.inputs import MAX_PLAN_BYTES, InputRefused, open_regular
from reconciler.plan.seal import MAC_BYTES, Hasher

MAGIC = b"\x89RPLAN\r\n"
VERSION = 2
PREFIX = len(MAGIC) + 2 + 4
FP_BYTES = 16
SINCE_FLAG = 0x20
HELD_FLAG = 0x08
CONFLICTED_FLAG = 0x10
STATE_MASK = 0x07
KNOWN_FLAGS = STATE_MASK | HELD_FLAG | CONFLICTED_FLAG | SINCE_FLAG
CHUNK = 1 << 20
MAX_HEADER_BYTES = 256 << 20

MODIFIED = (
    "the plan file was modified (its {what} does not match: it was edited, damaged or cut "
    "after `reconcile plan` wrote it); nothing was sent. Make the plan again"
)


class FrameError(ReconcilerError):
    """A file that is not a readable format-2 saved plan."""


@dataclass(frozen=True, slots=True)
class Record:
    fp: bytes  # 16 bytes
    flags: int
    since: int  # index into the header's `since` list, or -1


def pack(fp_hex: str, flags: int, since: int = -1) -> bytes:
    out = bytes.fromhex(fp_hex[: FP_BYTES * 2]) + bytes((flags,))
    return out + since.to_bytes(4, "big") if flags & SINCE_FLAG else out


def write_frame(
    handle: BinaryIO, header: dict[str, Any], chunks: Iterable[bytes], hasher: Hasher
) -> int:
    """Write a whole file to `handle`; returns its size in bytes."""
    body = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    start = MAGIC + VERSION.to_bytes(2, "big") + len(body).to_bytes(4, "big") + body
    hasher.update(start)
    handle.write(start)
    size = len(start)
    for chunk in chunks:
        hasher.update(chunk)
        handle.write(chunk)
        size += len(chunk)
    mac = hasher.digest()
    handle.write(mac)
    return size + len(mac)


def sniff(path: Path) -> bytes:
    """The first bytes of a saved plan (to tell its format), refused as the loader does."""
    try:
        with open_regular(path, MAX_PLAN_BYTES, str(path)) as handle:
            return handle.read(PREFIX)
    except InputRefused as exc:
        if exc.reason == "no such file":
            raise ReconcilerError(f"{path}: no such plan file") from exc
        raise ReconcilerError(str(exc)) from exc


class FrameReader:
    """Reads one format-2 file: its header (unverified, for messages), its MAC over the
    whole file, and its records as a stream whose end checks the MAC again."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> tuple[BinaryIO, int]:
        try:
            handle = open_regular(self.path, MAX_PLAN_BYTES, str(self.path))
        except InputRefused as exc:
            if exc.reason == "no such file":
                raise ReconcilerError(f"{self.path}: no such plan file") from exc
            raise ReconcilerError(str(exc)) from exc
        return handle, os.fstat(handle.fileno()).st_size

    def _prefix(self, handle: BinaryIO, size: int) -> tuple[bytes, int]:
        """(the prefix's bytes read, header length), refusing what is not format 2."""
        start = handle.read(PREFIX)
        if len(start) < PREFIX or not start.startswith(MAGIC):
            raise FrameError(f"{self.path}: not a saved plan (made by `reconcile plan --out`)")
        version = int.from_bytes(start[len(MAGIC) : len(MAGIC) + 2], "big")
        if version != VERSION:
            raise FrameError(
                f"{self.path}: plan file format {version} is not {VERSION}: make the plan "
                "again with this version"
            )
        length = int.from_bytes(start[len(MAGIC) + 2 :], "big")
        if length > MAX_HEADER_BYTES or PREFIX + length + MAC_BYTES > size:
            raise FrameError(f"{self.path}: {MODIFIED.format(what='length')}")
        return start, length

    def header(self) -> dict[str, Any]:
        """The header as written, NOT verified: for choosing the key and for messages."""
        handle, size = self._open()
        with handle:
            _, length = self._prefix(handle, size)
            raw = handle.read(length)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise FrameError(f"{self.path}: {MODIFIED.format(what='header')}") from exc
        if not isinstance(data, dict):
            raise FrameError(f"{self.path}: {MODIFIED.format(what='header')}")
        return data

    def verify(self, hasher: Hasher, what: str) -> None:
        """Check the MAC over the whole file, a chunk at a time."""
        handle, size = self._open()
        with handle:
            left = size - MAC_BYTES
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                hasher.update(chunk)
                left -= len(chunk)
            mac = handle.read(MAC_BYTES)
        if left or not hmac.compare_digest(mac, hasher.digest()):
            raise FrameError(f"{self.path}: {MODIFIED.format(what=what)}")

    def same_items(self, chunks: Iterable[bytes], hasher: Hasher, what: str) -> bool:
        """Whether the items region holds exactly the concatenation of `chunks` (the
        records a writer would write now), compared a chunk at a time; the MAC is checked
        again over the whole file whatever the answer."""
        handle, size = self._open()
        with handle:
            start, length = self._prefix(handle, size)
            hasher.update(start)
            hasher.update(handle.read(length))
            left = size - MAC_BYTES - PREFIX - length
            equal = True
            for chunk in chunks:
                got = handle.read(min(len(chunk), max(left, 0)))
                left -= len(got)
                hasher.update(got)
                if got != chunk:
                    equal = False
                    break
            while left > 0:  # what is left: different when there is any, hashed anyway
                rest = handle.read(min(CHUNK, left))
                if not rest:
                    break
                hasher.update(rest)
                left -= len(rest)
                equal = False
            mac = handle.read(MAC_BYTES)
        if left or not hmac.compare_digest(mac, hasher.digest()):
            raise FrameError(f"{self.path}: {MODIFIED.format(what=what)}")
        return equal

    def records(self, counts: list[int], hasher: Hasher, what: str) -> Iterator[tuple[int, Record]]:
        """(section index, record) for every record, in file order; the MAC is checked
        again at the end (a file changed since `verify` raises then, before the caller
        acts on what it read)."""
        handle, size = self._open()
        with handle:
            start, length = self._prefix(handle, size)
            hasher.update(start)
            header = handle.read(length)
            hasher.update(header)
            left = size - MAC_BYTES - PREFIX - length
            buf = b""
            pos = 0
            for section, count in enumerate(counts):
                for _ in range(count):
                    if len(buf) - pos < FP_BYTES + 5:
                        take = min(CHUNK, left)
                        chunk = handle.read(take) if take > 0 else b""
                        left -= len(chunk)
                        hasher.update(chunk)
                        buf = buf[pos:] + chunk
                        pos = 0
                    end = pos + FP_BYTES + 1
                    if end > len(buf):
                        raise FrameError(f"{self.path}: {MODIFIED.format(what=what)}")
                    flags = buf[end - 1]
                    since = -1
                    if flags & SINCE_FLAG:
                        since = int.from_bytes(buf[end : end + 4], "big")
                        if end + 4 > len(buf):
                            raise FrameError(f"{self.path}: {MODIFIED.format(what=what)}")
                        end += 4
                    if flags & ~KNOWN_FLAGS:
                        raise FrameError(f"{self.path}: {MODIFIED.format(what=what)}")
                    yield section, Record(buf[pos : pos + FP_BYTES], flags, since)
                    pos = end
            rest = len(buf) - pos
            while left > 0:  # bytes after the last record: counted against the file
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                hasher.update(chunk)
                left -= len(chunk)
                rest += len(chunk)
            mac = handle.read(MAC_BYTES)
        if rest or left or not hmac.compare_digest(mac, hasher.digest()):
            raise FrameError(f"{self.path}: {MODIFIED.format(what=what)}")

"""The file backend: a header file and append-only run files under one folder.

    state/ledger/header.jsonl                 lineage, format, fingerprint scheme, key id
    state/ledger/runs/<start>-<run>.jsonl      one run: apply, refresh, resolve, unlock
    state/ledger/runs/<start>-<run>.p<k>.jsonl its k-th part (p0002, ...), once one is full

Files are only ever created or appended to, so two branches' ledgers merge in git
without conflicts. Every append is flushed and fsynced before it returns; a new file's
folder entry is fsynced before anything is written to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.inputs import create_exclusive
from reconciler.ledger.header import HEADER_FILE

RUNS_DIR = "runs"
SUFFIX = ".jsonl"
_TAIL_CHUNK = 1 << 16


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iter_lines(path: Path, warnings: list[str]) -> Iterator[tuple[int, bytes]]:
    """Complete lines of `path`; a torn last line (no newline) is reported and skipped.

    Read as a stream: a run file of a million records is never held whole.
    """
    with path.open("rb", buffering=1 << 20) as handle:
        for number, line in enumerate(handle, start=1):
            if line.endswith(b"\n"):
                yield number, line[:-1]
            else:  # only the last line can lack its newline
                warnings.append(
                    f"{path.name}:{number}: torn last line (the write was interrupted); ignored"
                )


def run_files(ledger_dir: Path) -> list[Path]:
    runs = ledger_dir / RUNS_DIR
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if p.suffix == SUFFIX and p.is_file())


class PartFile:
    """A run file being appended to, opened exclusively (never through a link)."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.path = path
        fd = create_exclusive(path)
        os.close(fd)
        # the folder entry is durable before any record is: a kill or power cut can
        # leave an empty file, never records in a file the folder forgot
        fsync_dir(path.parent)
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        self._fd: int | None = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes, durable: bool = True) -> None:
        """Written and fsynced before this returns, `durable` or not."""
        assert self._fd is not None, "the part is closed"
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self._size += len(data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class FileStorage:
    """A ledger folder (see the module docstring)."""

    def __init__(self, ledger_dir: Path) -> None:
        self.dir = ledger_dir
        self.runs = ledger_dir / RUNS_DIR

    @property
    def header_path(self) -> Path:
        return self.dir / HEADER_FILE

    def read_header(self) -> bytes | None:
        path = self.header_path
        if not path.exists():
            return None
        try:
            with path.open("rb") as handle:
                return handle.readline().rstrip(b"\n")
        except OSError as exc:
            raise ReconcilerError(
                f"{path}: the ledger header cannot be read ({exc.strerror})"
            ) from exc

    def header_lines(self, warnings: list[str]) -> list[tuple[int, bytes]]:
        return list(iter_lines(self.header_path, warnings))

    def create_header(self, line: bytes) -> None:
        """Atomically: temp file, fsync, rename, fsync the folder."""
        self.dir.mkdir(parents=True, exist_ok=True)
        target = self.header_path
        if target.exists():
            raise ReconcilerError(f"{target} exists: a ledger is already here")
        tmp = self.dir / f".{HEADER_FILE}.{os.getpid()}.tmp"
        with os.fdopen(create_exclusive(tmp), "wb") as handle:
            handle.write(line + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(self.dir)

    def parts(self) -> list[str]:
        try:
            return [p.name for p in run_files(self.dir)]
        except OSError as exc:
            raise ReconcilerError(
                f"{self.dir}: the ledger cannot be read ({exc.strerror})"
            ) from exc

    def path(self, name: str) -> Path:
        return self.runs / name

    def edge_lines(self, name: str) -> tuple[bytes | None, bytes | None]:
        """The first and last complete lines, reading only the file's two ends."""
        with self.path(name).open("rb") as handle:
            first = handle.readline()
            if not first.endswith(b"\n"):
                return None, None
            size = handle.seek(0, os.SEEK_END)
            # the last newline, then the one before it
            end = size
            tail = b""
            while True:
                start = max(0, end - _TAIL_CHUNK)
                handle.seek(start)
                tail = handle.read(end - start) + tail
                last_nl = tail.rfind(b"\n")
                if last_nl != -1:
                    prev_nl = tail.rfind(b"\n", 0, last_nl)
                    if prev_nl != -1 or start == 0:
                        return first[:-1], tail[prev_nl + 1 : last_nl]
                if start == 0:
                    return first[:-1], first[:-1]
                end = start

    def lines(self, name: str, warnings: list[str]) -> Iterator[tuple[int, bytes]]:
        return iter_lines(self.path(name), warnings)

    def create_part(self, name: str) -> PartFile:
        if self.runs.is_symlink():
            raise ReconcilerError(
                f"{self.runs} is a symbolic link: the ledger is never written through one"
            )
        self.runs.mkdir(parents=True, exist_ok=True)
        return PartFile(self.runs / name)

"""Manifests at a git revision, read with `git ls-tree` and `git cat-file` (no checkout,
no temp files): for `reconcile diff --base REF`.

Paths are those of the tree, so they cannot leave the repository; as in the working
tree, hidden files and folders are never read, CSV references are relative and may not
climb out, and sizes are bounded before anything is read. A symbolic link in the
revision is reported, not followed. A CSV source is streamed from `git cat-file`.
"""

from __future__ import annotations

import io
import posixpath
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.config import Config
from reconciler.errors import Problem, ReconcilerError
from reconciler.inputs import (
    MAX_CSV_BYTES,
    MAX_MANIFEST_BYTES,
    InputRefused,
    decode_utf8,
    relative_reference,
)
from reconciler.manifests.csvsource import CsvOpener
from reconciler.manifests.encrypted import decrypt_bytes, is_encrypted
from reconciler.manifests.load import (
    CsvLocator,
    LoadResult,
    is_manifest_name,
    load_text,
    locked_message,
    sort_problems,
)

GIT_TIMEOUT = 120


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    oid: str
    size: int | None
    path: str  # from the top of the repository


def _git(cwd: Path, *args: str) -> bytes:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ReconcilerError(f"git {args[0]}: cannot run git ({type(exc).__name__})") from exc
    if out.returncode != 0:
        why = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReconcilerError(f"git {args[0]}: {why[-1] if why else 'failed'}")
    return out.stdout


class GitRevision:
    """One revision of the repository holding the config."""

    def __init__(self, config: Config, rev: str) -> None:
        self.config = config
        self.rev = rev
        root = _git(config.root, "rev-parse", "--show-toplevel").decode().strip()
        self.top = Path(root)
        try:
            _git(self.top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except ReconcilerError as exc:
            raise ReconcilerError(f"--base {rev}: no such commit in this repository") from exc
        # the config's folder, from the top of the repository ("" at the top)
        self.prefix = config.root.resolve().relative_to(self.top.resolve()).as_posix()
        if self.prefix == ".":
            self.prefix = ""

    def _top_path(self, rel: str) -> str:
        return posixpath.join(self.prefix, rel) if self.prefix else rel

    def _shown(self, top_path: str) -> str:
        """A revision's path as the config's folder names it (as the working tree does)."""
        return posixpath.relpath(top_path, self.prefix) if self.prefix else top_path

    def ls(self, top_path: str, recursive: bool) -> list[TreeEntry]:
        args = ["ls-tree", "-z", "-l", "--full-tree"]
        if recursive:
            args.append("-r")
        out = _git(self.top, *args, self.rev, "--", top_path)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, kind, oid, size = meta.decode().split()
            entries.append(
                TreeEntry(mode, kind, oid, int(size) if size != "-" else None, name.decode())
            )
        return entries

    def load(self) -> LoadResult:
        """Every manifest under the specs folder at this revision, as load_specs reads
        the working tree's."""
        result = LoadResult()
        specs = self.config.specs_dir.resolve().relative_to(self.top.resolve()).as_posix()
        names: dict[str, tuple[str, int]] = {}
        for entry in self.ls(specs, recursive=True):
            rel = posixpath.relpath(entry.path, specs)
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            if not is_manifest_name(entry.path):
                continue
            shown = self._shown(entry.path)
            if entry.mode == "120000":
                result.problems.append(
                    Problem(shown, None, "", "a symbolic link: not followed in a git revision")
                )
                continue
            if entry.kind != "blob":
                continue
            try:
                text = self._text(entry, shown)
            except InputRefused as exc:
                result.files.append(shown)
                result.problems.append(Problem(shown, exc.line, "", exc.reason))
                continue
            if text is None:
                result.files.append(shown)
                result.locked.append(Problem(shown, None, "", locked_message(self.config)))
                continue
            load_text(self.config, shown, text, self._csv_locator(entry.path), names, result)
        sort_problems(result)
        return result

    def _text(self, entry: TreeEntry, shown: str) -> str | None:
        """The manifest's text (decrypted in memory when encrypted); None when it is
        encrypted and no age identity was given."""
        if entry.size is not None and entry.size > MAX_MANIFEST_BYTES:
            raise InputRefused(shown, "is over the size limit of a manifest")
        data = _git(self.top, "cat-file", "blob", entry.oid)
        if is_encrypted(entry.path):
            identities = self.config.age_identities
            if identities is None:
                return None
            data = decrypt_bytes(
                data, identities, shown, MAX_MANIFEST_BYTES, self.config.age_key_env
            )
        return decode_utf8(data, shown)

    def _csv_locator(self, manifest_path: str) -> CsvLocator:
        def locate(rel: str, report: Callable[[str], None]) -> tuple[CsvOpener, str] | None:
            shown = self._shown(posixpath.join(posixpath.dirname(manifest_path), rel))
            try:
                relative_reference(rel, shown, "CSV source")
                return self._csv(manifest_path, rel, shown), shown
            except InputRefused as exc:
                report(str(exc))
                return None

        return locate

    def _csv(self, manifest_path: str, rel: str, shown: str) -> CsvOpener:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(manifest_path), rel))
        if path == ".." or path.startswith("../"):
            raise InputRefused(shown, "leads outside the repository: a CSV source is inside it")
        if any(part.startswith(".") for part in path.split("/")):
            raise InputRefused(shown, "is hidden: hidden files and folders are never read")
        found = [e for e in self.ls(path, recursive=False) if e.path == path]
        if not found:
            raise InputRefused(shown, "no such file")
        entry = found[0]
        if entry.mode == "120000":
            raise InputRefused(shown, "is a symbolic link: not followed in a git revision")
        if entry.kind != "blob":
            raise InputRefused(shown, "is not a regular file")
        if entry.size is not None and entry.size > MAX_CSV_BYTES:
            raise InputRefused(shown, "is over the size limit of a CSV source")

        def open_blob() -> BinaryIO:
            return io.BufferedReader(_BlobRaw(self.top, entry.oid))

        return open_blob


class _BlobRaw(io.RawIOBase):
    """A blob's bytes streamed from `git cat-file` (a CSV of millions of rows is never
    held whole); closing it reaps the process."""

    def __init__(self, top: Path, oid: str) -> None:
        super().__init__()
        self._proc = subprocess.Popen(
            ["git", "cat-file", "blob", oid],
            cwd=top,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        # stdout=PIPE with the default buffering: a BufferedReader (read1 reads what is there)
        assert isinstance(self._proc.stdout, io.BufferedReader)
        self._out = self._proc.stdout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._out.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._out.close()
            try:
                self._proc.wait(timeout=GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        super().close()

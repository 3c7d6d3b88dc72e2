"""Every file the tool reads or writes on a user's behalf, checked before it is touched.

Manifests arrive in pull requests, and a manifest names the files it reads. So a path
written in a file (a CSV source, the specs and ledger folders) is confined to the
repository: relative, no `..` out, no symbolic link whose target leaves the tree, and
never a hidden file or folder (`.git/config` holds CI's push credentials, `.env` holds
secrets). Every input is opened without blocking and refused unless it is a regular file
within a size bound, so a FIFO cannot hang a run and `/dev/zero` cannot fill memory.
Outputs are written only as regular files, never through a symbolic link.

Messages name the path and what is wrong with it; they never quote the file's content.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO

from reconciler.errors import ReconcilerError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# Size bounds, named in the README ("Limits").
MAX_CONFIG_BYTES = 1 * MIB
MAX_MANIFEST_BYTES = 16 * MIB
MAX_CSV_BYTES = 16 * GIB
MAX_PLAN_BYTES = 4 * GIB
MAX_LEDGER_LINE_BYTES = 1 * MIB


class InputRefused(ReconcilerError):
    """A path or file the tool will not read or write: `shown` is the path as the user
    wrote it, `reason` what is wrong with it (never the file's content)."""

    def __init__(self, shown: str, reason: str, line: int | None = None) -> None:
        self.shown = shown
        self.reason = reason
        self.line = line
        super().__init__(f"{shown}:{line}: {reason}" if line else f"{shown}: {reason}")


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _size(n: int) -> str:
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def hidden_part(path: Path, root: Path) -> str | None:
    """The first hidden component of `path` below `root` (`.git`, `.env`...), or None."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    return next((p for p in parts if p.startswith(".")), None)


def confine(
    path: Path, root: Path, shown: str, what: str = "file", hidden_ok: bool = False
) -> Path:
    """`path` resolved, or InputRefused when it leaves `root` or is hidden.

    `path` is where a reference points (already joined to the folder it is relative
    to); `shown` is how the user wrote it, for the message.
    """
    base = root.resolve()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop, a NUL
        raise InputRefused(shown, f"cannot read: {_why(exc)}") from exc
    if not resolved.is_relative_to(base):
        if Path(os.path.normpath(path.absolute())).is_relative_to(base):
            how = "is or passes through a symbolic link whose target is"
        else:
            how = "leads"
        raise InputRefused(
            shown, f"{how} outside the repository ({base.name}/): a {what} must be inside it"
        )
    hidden = None if hidden_ok else hidden_part(resolved, base)
    if hidden is not None:
        raise InputRefused(
            shown,
            f"is inside the hidden {hidden!r}: hidden files and folders (.git, .env, "
            f"...) are never read as a {what}",
        )
    return resolved


def relative_reference(text: str, shown: str, what: str) -> None:
    """Refuse a path written in a file that is absolute: references are relative."""
    if text.startswith(("/", "\\", "~")) or (len(text) > 1 and text[1] == ":"):
        raise InputRefused(
            shown,
            f"an absolute path is refused: give the {what} relative to the file "
            "that names it, inside the repository",
        )


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, ValueError) and "'" not in str(exc):  # "embedded null byte"
        return str(exc)
    return type(exc).__name__


def open_regular(path: Path, limit: int, shown: str) -> BinaryIO:
    """Open `path` for reading, refusing anything but a regular file of at most
    `limit` bytes. Never blocks: a FIFO is opened non-blocking and refused."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise InputRefused(shown, "no such file") from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise InputRefused(shown, f"cannot read: {_why(exc)}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(shown, f"is {_kind_of(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise InputRefused(shown, f"is {_size(info.st_size)}, over the limit of {_size(limit)}")
        # reads of a regular file never block; clear the flag so nothing else sees it
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: Path, limit: int, shown: str) -> bytes:
    """The whole of a regular file of at most `limit` bytes (see open_regular).

    The bound holds while reading too: a file that grows, or one the kernel makes up
    as it is read (a `/proc` file reports size 0), is cut off at `limit` and refused.
    """
    with open_regular(path, limit, shown) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputRefused(shown, f"cannot read: {_why(exc)}") from exc
    if len(data) > limit:
        raise InputRefused(shown, f"is over the limit of {_size(limit)}")
    return data


def decode_utf8(data: bytes, shown: str) -> str:
    """`data` as UTF-8 text, or InputRefused naming the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputRefused(
            shown, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read)", line
        ) from exc


def check_output(path: Path, shown: str) -> None:
    """Refuse to write `path` unless it is absent or a regular file, in a folder.

    A symbolic link is never replaced (nor followed), and devices, FIFOs and the like
    are never written over.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as exc:
        raise InputRefused(shown, f"cannot write here: {_why(exc)}") from exc
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise InputRefused(
                shown,
                "is a symbolic link: refusing to replace it (write to its target's path instead)",
            )
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(shown, f"is {_kind_of(info.st_mode)}: refusing to write over it")
    parent = path.parent
    if not parent.is_dir():
        raise InputRefused(shown, f"no such folder {parent}")


def create_exclusive(path: Path, mode: int = 0o644) -> int:
    """A new file's descriptor, for writing: never follows a link, never reuses a file
    (O_CREAT | O_EXCL fails on anything already there, a dangling link included)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), mode)

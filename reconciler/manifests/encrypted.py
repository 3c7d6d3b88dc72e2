"""Encrypted sources: manifests and CSVs stored with age (`specs/x.yaml.age`, `bad.csv.age`).

The identifiers a cleanup erases would otherwise sit in git history for ever. A source
whose name ends in `.age` is decrypted in memory only, by the commands that need its
values, with the age identity the CLI reads from the variable `sources.age_key_env`
names; its plaintext is never written to disk. A manifest (at most
MAX_MANIFEST_BYTES) is decrypted whole; a CSV is streamed: pyrage's decrypt_io reads and
writes in chunks of 8 KiB, so a thread decrypts into a pipe (kernel memory, never a file)
that the CSV reader consumes, and memory stays bounded however long the file is.

Messages name the file and what went wrong, never a key or any plaintext.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

import pyrage
from pyrage import x25519

from reconciler.errors import ReconcilerError
from reconciler.inputs import InputRefused

AGE_SUFFIX = ".age"
IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
RECIPIENT_PREFIX = "age1"

# Only these are accepted as identities and recipients (pyrage parses others too).
Identity: TypeAlias = x25519.Identity  # pyrage ships no types: opaque to mypy
Recipient: TypeAlias = x25519.Recipient


def is_encrypted(name: str) -> bool:
    return name.endswith(AGE_SUFFIX)


def plain_name(name: str) -> str:
    """`x.yaml.age` -> `x.yaml`: the name the plaintext would have."""
    return name[: -len(AGE_SUFFIX)] if is_encrypted(name) else name


def parse_identities(text: str, variable: str) -> tuple[Identity, ...]:
    """The age identities in `text` (an age key file's form: one AGE-SECRET-KEY-1... a
    line, `#` comments and blank lines skipped). The message names `variable`, never
    the value."""
    lines = [s.strip() for s in text.splitlines()]
    keys = [s for s in lines if s and not s.startswith("#")]
    if not keys:
        raise ReconcilerError(f"environment variable {variable} holds no age identity")
    found: list[Identity] = []
    for number, key in enumerate(keys, 1):
        try:
            if not key.startswith(IDENTITY_PREFIX):
                raise ValueError
            found.append(Identity.from_str(key))
        except Exception as exc:  # pyrage's IdentityError, or ours; the value is never shown
            raise ReconcilerError(
                f"environment variable {variable}: key {number} is not an age identity "
                f"(a line starting {IDENTITY_PREFIX}; the value is not shown)"
            ) from exc
    return tuple(found)


def parse_recipient(text: str) -> Recipient:
    try:
        if not text.startswith(RECIPIENT_PREFIX):
            raise ValueError
        return Recipient.from_str(text)
    except Exception as exc:
        raise ReconcilerError(
            "--recipient: not an age public key (age1 followed by 58 characters; the "
            "value is not shown)"
        ) from exc


def _why(exc: BaseException, variable: str | None) -> str:
    """Why decryption failed, in words: pyrage's messages are matched, never quoted."""
    text = str(exc)
    if isinstance(exc, InputRefused):
        return exc.reason
    if "No matching keys" in text or "no identity matched" in text.lower():
        held = f"the identity in {variable}" if variable else "the age identity"
        return f"cannot be decrypted with {held}: it was encrypted to another recipient"
    return "cannot be decrypted: it is not an age file, or it was cut short or altered"


def decrypt_bytes(
    data: bytes,
    identities: Sequence[Identity],
    shown: str,
    limit: int,
    variable: str | None = None,
) -> bytes:
    """The plaintext of a whole age file held in memory, at most `limit` bytes."""
    try:
        plain: bytes = pyrage.decrypt(data, list(identities))
    except Exception as exc:  # pyrage.DecryptError and the like
        raise InputRefused(shown, _why(exc, variable)) from exc
    if len(plain) > limit:
        raise InputRefused(shown, f"decrypts to more than the limit of {limit} bytes")
    return plain


class DecryptingReader(io.RawIOBase):
    """The plaintext of an age stream, read as it is decrypted (see the module doc).

    A failure (a wrong key, a chunk altered or missing) is raised by the read that meets
    it, as InputRefused: age authenticates each 64 KiB chunk, so nothing unauthenticated
    is ever returned. Closing early stops the decrypting thread (its next write fails).
    """

    def __init__(
        self,
        source: BinaryIO,
        identities: Sequence[Identity],
        shown: str,
        variable: str | None = None,
    ) -> None:
        super().__init__()
        self._shown = shown
        self._variable = variable
        self._error: BaseException | None = None
        read_end, write_end = os.pipe()
        self._pipe = os.fdopen(read_end, "rb", buffering=0)
        self._thread = threading.Thread(
            target=self._decrypt,
            args=(source, write_end, list(identities)),
            name="age-decrypt",
            daemon=True,
        )
        self._thread.start()

    def _decrypt(self, source: BinaryIO, write_end: int, identities: list[Any]) -> None:
        try:
            with source, os.fdopen(write_end, "wb") as out:
                pyrage.decrypt_io(source, out, identities)
        except BaseException as exc:  # reported by the reader, never lost
            self._error = exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._pipe.readinto(buffer)
        if not n:
            self._thread.join()
            if self._error is not None:
                raise InputRefused(self._shown, _why(self._error, self._variable))
        return n or 0

    def close(self) -> None:
        if not self.closed:
            self._pipe.close()  # the decrypting thread's next write fails: it stops
            self._thread.join(timeout=10)
        super().close()


def open_decrypted(
    source: BinaryIO, identities: Sequence[Identity], shown: str, variable: str | None = None
) -> BinaryIO:
    """A buffered reader of `source`'s plaintext (see DecryptingReader)."""
    return io.BufferedReader(DecryptingReader(source, identities, shown, variable), 64 * 1024)


def encrypt_file(source: BinaryIO, out: Path, recipients: Sequence[Recipient]) -> None:
    """Encrypt `source` into `out`, which must not exist: written to a hidden temporary
    file beside it, fsynced, then linked into place (refused if `out` appeared
    meanwhile), so a reader never sees half a file and nothing is ever overwritten."""
    from reconciler.inputs import create_exclusive

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with os.fdopen(create_exclusive(tmp, 0o644), "wb") as handle:
            try:
                pyrage.encrypt_io(source, handle, list(recipients))
            except Exception as exc:
                raise ReconcilerError(f"{out}: cannot encrypt ({type(exc).__name__})") from exc
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, out)  # fails if `out` exists: never an overwrite
        except FileExistsError as exc:
            raise ReconcilerError(f"{out} already exists: refusing to overwrite it") from exc
    except OSError as exc:
        raise ReconcilerError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)

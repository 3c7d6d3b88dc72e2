"""Record ids: what links each format-2 record to the one before it, with or without a key.

A record's id is computed over the previous record's id and the record's own bytes
(its line up to the trailing `,"m":"..."}`), so changing, removing, inserting or
moving any record changes every id after it:

- keyed (the ledger has an HMAC key, ledger.key_env): HMAC-SHA256 under a MAC key
  derived from the ledger key with its own label, so the MAC key is never the key that
  makes fingerprints. Without the ledger key nobody can compute an id: a record cannot
  be forged, altered or appended.
- unkeyed (a salted ledger): SHA-256 with a fixed label. Anyone can recompute it, so it
  finds accidents (a bad merge, a truncated copy, a hand edit that forgot the chain),
  never forgery.

Ids are cut to 128 bits. Keyed, a forger without the key must guess an id: one chance
in 2^128 per try, and every try is a commit someone reviews. Unkeyed, the chain needs no
collision resistance against an attacker (one who can write can recompute the ids), and
2^64 work for an accidental collision is out of reach.

Format-1 records carry `prev`, the SHA-256 hex of the previous line; their id is the
SHA-256 hex of their own line.
"""

from __future__ import annotations

import hashlib
import hmac
from binascii import b2a_base64

from reconciler.ledger.records import ID_CHARS
from reconciler.mac import HmacSha256

_URLSAFE = bytes.maketrans(b"+/", b"-_")
MAC_LABEL = b"reconciler/ledger/record-mac/v2"
HASH_LABEL = b"reconciler/ledger/record-hash/v2\n"
ID_OPEN = b',"m":"'
ID_CLOSE = b'"}'
SUFFIX = len(ID_OPEN) + ID_CHARS + len(ID_CLOSE)


def legacy_id(line: bytes) -> str:
    """A format-1 record's id: the SHA-256 of its line."""
    return hashlib.sha256(line).hexdigest()


class Chain:
    """Computes format-2 record ids for one ledger: keyed, or not."""

    def __init__(self, key: bytes | None) -> None:
        # the MAC key: the ledger key through HMAC with a label of its own
        self._mac_key = hmac.digest(key, MAC_LABEL, "sha256") if key is not None else None
        # the key's padded blocks hashed once (reconciler.mac): a new HMAC context per
        # record was 40% of the MAC on a ledger line
        self._mac = HmacSha256(self._mac_key) if self._mac_key is not None else None
        self._label = hashlib.sha256(HASH_LABEL)

    @property
    def keyed(self) -> bool:
        return self._mac_key is not None

    def id_of(self, prev: bytes, head: bytes) -> bytes:
        """The id of a record whose line, before its id member, is `head` (the compact
        JSON without its closing brace), following the record whose id is `prev`."""
        if self._mac is not None:
            digest = self._mac.digest(prev + b"\n" + head)
        else:
            unkeyed = self._label.copy()
            unkeyed.update(prev + b"\n" + head)
            digest = unkeyed.digest()
        # base64url without padding (binascii directly: the base64 module's wrappers
        # cost more than the MAC on a short line)
        return b2a_base64(digest[:16], newline=False).translate(_URLSAFE)[:ID_CHARS]

    def seal(self, prev: bytes, body: bytes) -> tuple[bytes, bytes]:
        """The line of the record encoded as `body` (its id added as the last member)
        and its id."""
        head = body[:-1]
        rid = self.id_of(prev, head)
        return head + ID_OPEN + rid + ID_CLOSE, rid


def split(line: bytes) -> tuple[bytes, bytes] | None:
    """(the bytes the id was computed over, the id) of a format-2 line, or None when the
    line does not end with an id member."""
    if (
        len(line) <= SUFFIX + 1
        or line[-SUFFIX : -SUFFIX + len(ID_OPEN)] != ID_OPEN
        or line[-2:] != ID_CLOSE
    ):
        return None
    return line[:-SUFFIX], line[-SUFFIX + len(ID_OPEN) : -2]


def anchor(after: list[str]) -> bytes:
    """What a run's first record chains from: the ids it continues from, in order."""
    return ",".join(sorted(after)).encode("ascii", "replace")

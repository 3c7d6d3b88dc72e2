"""The ledger's header: lineage, fingerprint scheme, key id, salt; written once."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler import __version__
from reconciler.desired import KEYED, SALTED, Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.chain import Chain, legacy_id, split
from reconciler.ledger.records import (
    FORMAT_VERSION,
    GENESIS,
    HEADER,
    HEADER_VERSIONS,
    encode,
    encode_body,
    show,
)

HEADER_FILE = "header.jsonl"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Header:
    lineage: str
    scheme: str
    key_id: str
    salt: str | None
    created: str
    version: int = FORMAT_VERSION
    id: str = ""  # what the first runs continue from

    @property
    def keyed(self) -> bool:
        return self.scheme == KEYED

    def fingerprinter(self, key: bytes | None) -> Fingerprinter:
        """The fingerprint function this ledger was made with; refuses a different key."""
        if self.scheme == SALTED:
            if key is not None:
                raise ReconcilerError(
                    "the ledger was made without a key (salted SHA-256) but a key is configured: "
                    "fingerprints would not match. Remove ledger.key_env or start a new ledger"
                )
            assert self.salt is not None
            return Fingerprinter.salted(bytes.fromhex(self.salt))
        if key is None:
            raise ReconcilerError(
                "the ledger was made with an HMAC key (ledger.key_env) but none is configured"
            )
        fp = Fingerprinter.keyed(key)
        if fp.key_id != self.key_id:
            raise ReconcilerError(
                f"the ledger was made with a different key (key id {self.key_id}, "
                f"this key's id is {fp.key_id}): fingerprints would not match, refusing to compare"
            )
        return fp

    def chain(self, key: bytes | None) -> Chain | None:
        """How this ledger's format-2 record ids are computed; None when it is keyed and
        `key` is missing (ids cannot be checked or written). A wrong key raises."""
        if not self.keyed:
            return Chain(None)
        if key is None:
            return None
        self.fingerprinter(key)  # refuses another key, naming both key ids
        return Chain(key)


def header_problem(rec: Any) -> str | None:
    """What is wrong with a parsed header record, or None when it is a usable header."""
    if not isinstance(rec, dict):
        return "not a reconciler ledger header (a JSON object was expected)"
    version = rec.get("format_version")
    if rec.get("type") != HEADER or type(version) is not int or version not in HEADER_VERSIONS:
        return f"not a reconciler ledger header of format {' or '.join(map(str, HEADER_VERSIONS))}"
    for name in ("lineage", "scheme", "key_id", "created"):
        if name not in rec:
            return f"the ledger header has no '{name}'"
        if type(rec[name]) is not str:
            return f"the ledger header's '{name}' is not a string: {show(rec[name])}"
    if rec["scheme"] not in (KEYED, SALTED):
        return f"the ledger header names an unknown fingerprint scheme {show(rec['scheme'])}"
    salt = rec.get("salt")
    if salt is not None and type(salt) is not str:
        return f"the ledger header's 'salt' is not a string: {show(salt)}"
    if rec["scheme"] == SALTED:
        if salt is None:
            return "the ledger header has no 'salt' (its scheme is salted SHA-256)"
        try:
            bytes.fromhex(salt)
        except ValueError:
            return "the ledger header's 'salt' is not hex"
    return None


class HeaderProblem(ReconcilerError):
    """A header that cannot be used; `problem` says why, without the file's name."""

    def __init__(self, where: str, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{where}: {problem}")


def parse_header(line: bytes, where: str) -> Header:
    """The header of `line`; a header that cannot be used raises HeaderProblem."""
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise HeaderProblem(where, "the ledger header is not valid JSON") from exc
    problem = header_problem(rec)
    if problem is not None:
        raise HeaderProblem(where, problem)
    version = rec["format_version"]
    if version == 1:
        rid = legacy_id(line)
    else:
        parts = split(line)
        if parts is None:
            raise HeaderProblem(where, "the ledger header has no id ('m')")
        rid = parts[1].decode("ascii", "replace")
    return Header(
        rec["lineage"], rec["scheme"], rec["key_id"], rec.get("salt"), rec["created"], version, rid
    )


def header_chain_problem(line: bytes, header: Header, chain: Chain | None) -> str | None:
    """Whether the header's own link holds: format 1 starts the chain at GENESIS, a
    format-2 header carries its id (keyed: unforgeable without the key)."""
    if header.version == 1:
        if json.loads(line).get("prev") != GENESIS:
            return "hash chain broken: the header does not start the chain"
        return None
    if chain is None:
        return None
    body, rid = split(line) or (b"", b"")
    if chain.id_of(b"", body) != rid:
        return _id_mismatch(chain)
    return None


def _id_mismatch(chain: Chain) -> str:
    if chain.keyed:
        return "the record's MAC does not match: it was altered, or written without the ledger key"
    return (
        "hash chain broken: this record does not follow the one before it "
        "(a line was edited, removed or reordered)"
    )


def header_line(fingerprinter: Fingerprinter, lineage: str | None, created: str) -> bytes:
    """A new ledger's header line (format 2, carrying its own id)."""
    record: dict[str, Any] = {
        "type": HEADER,
        "format_version": FORMAT_VERSION,
        "lineage": lineage or secrets.token_hex(16),
        "scheme": fingerprinter.scheme,
        "key_id": fingerprinter.key_id,
        "created": created,
        "tool_version": __version__,
    }
    if fingerprinter.scheme == SALTED:
        record["salt"] = fingerprinter.secret.hex()
    chain = Chain(fingerprinter.secret if fingerprinter.scheme == KEYED else None)
    line, _ = chain.seal(b"", encode_body(record))
    return line


def legacy_header_line(fingerprinter: Fingerprinter, lineage: str, created: str) -> bytes:
    """A format-1 header, as 0.1.x wrote it (tests make old ledgers with it)."""
    record: dict[str, Any] = {
        "type": HEADER,
        "format_version": 1,
        "lineage": lineage,
        "scheme": fingerprinter.scheme,
        "key_id": fingerprinter.key_id,
        "created": created,
        "tool_version": "0.1.0",
        "prev": GENESIS,
    }
    if fingerprinter.scheme == SALTED:
        record["salt"] = fingerprinter.secret.hex()
    return encode(record)


def new_salted() -> Fingerprinter:
    return Fingerprinter.salted(secrets.token_bytes(32))

"""The seal of a report: a MAC (or, without a ledger key, a digest) over its JSON document.

The document is sealed as canonical JSON (sorted keys, no spaces, UTF-8) without its
`seal` member. Keyed ledger: HMAC-SHA256 under a key derived from the ledger key with
its own label (never the key that makes fingerprints or record ids): only someone who
holds the ledger key can make a report that verifies. Unkeyed ledger: SHA-256 with a
label: it finds accidents (a cut copy, an edit), not forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SEAL_LABEL = b"reconciler/report-seal/v1"
HASH_LABEL = b"reconciler/report-digest/v1\n"
KEYED = "hmac-sha256"
UNKEYED = "sha256"


def canonical(document: dict[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "seal"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal_of(document: dict[str, Any], key: bytes | None) -> dict[str, str]:
    data = canonical(document)
    if key is not None:
        mac_key = hmac.digest(key, SEAL_LABEL, "sha256")
        return {"algorithm": KEYED, "value": hmac.new(mac_key, data, "sha256").hexdigest()}
    return {"algorithm": UNKEYED, "value": hashlib.sha256(HASH_LABEL + data).hexdigest()}


def seal_problem(document: dict[str, Any], key: bytes | None, keyed: bool = False) -> str | None:
    """Why the document's seal does not hold, or None when it does. `keyed`: the ledger
    is keyed, so only an HMAC seal will do (a digest anyone can recompute would let an
    edited report pass)."""
    seal = document.get("seal")
    if not isinstance(seal, dict) or not isinstance(seal.get("value"), str):
        return "the report has no seal"
    algorithm = seal.get("algorithm")
    if keyed and algorithm == UNKEYED:
        return (
            "the report is sealed with a plain digest, but the ledger is keyed: reconciler "
            "seals a keyed ledger's reports with its key (HMAC), so this one was altered"
        )
    if algorithm == KEYED and key is None:
        return (
            "the report is sealed with the ledger key (HMAC) and the key is not available "
            "(set the variable ledger.key_env names)"
        )
    if algorithm not in (KEYED, UNKEYED):
        return f"unknown seal algorithm {str(algorithm)[:40]!r}"
    expected = seal_of(document, key if algorithm == KEYED else None)
    if not hmac.compare_digest(expected["value"], seal["value"]):
        return "the seal does not match: the report was changed after it was made"
    return None

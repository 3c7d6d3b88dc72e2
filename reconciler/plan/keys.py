"""Which fingerprint function a plan or apply uses, given the ledger and an optional key."""

from __future__ import annotations

from reconciler.desired import SALTED, Fingerprinter
from reconciler.ledger.store import Ledger, new_salted

UNKEYED_WARNING = (
    "fingerprints are salted SHA-256 without a key: anyone who can read the ledger can "
    "test guesses of emails and phone numbers against it. Set ledger.key_env to an HMAC key."
)


def fingerprinter_for(
    ledger: Ledger, key: bytes | None, salt_hex: str | None = None
) -> tuple[Fingerprinter, str | None]:
    """(fingerprinter, salt of a ledger yet to be made or None).

    An existing ledger decides (and refuses a different key); a new one is keyed when a
    key is configured, else salted with `salt_hex` (from a saved plan) or a fresh salt.
    """
    if ledger.header is not None:
        return ledger.header.fingerprinter(key), None
    if key is not None:
        return Fingerprinter.keyed(key), None
    fp = Fingerprinter.salted(bytes.fromhex(salt_hex)) if salt_hex else new_salted()
    return fp, fp.secret.hex()


def is_unkeyed(fp: Fingerprinter) -> bool:
    return fp.scheme == SALTED

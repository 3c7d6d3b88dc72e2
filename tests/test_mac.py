"""reconciler.mac: HMAC-SHA256 with the key's blocks hashed once must be the standard
library's HMAC, for every key length (RFC 2104 hashes keys longer than a block first)
and message length, and stay usable for message after message."""

from __future__ import annotations

import copy
import hashlib
import hmac
import pickle
import random

from reconciler.desired import Fingerprinter
from reconciler.mac import HmacSha256


def test_digests_are_the_standard_librarys_hmac() -> None:
    rng = random.Random(7)
    for key_size in (0, 1, 31, 32, 63, 64, 65, 128, 300):
        key = rng.randbytes(key_size)
        mac = HmacSha256(key)
        for size in (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4096):
            message = rng.randbytes(size)
            expected = hmac.digest(key, message, "sha256")
            assert mac.digest(message) == expected, (key_size, size)
            assert mac.hexdigest(message) == expected.hex(), (key_size, size)
        # the states are copied, never used up
        assert mac.digest(b"again") == mac.digest(b"again") == hmac.digest(key, b"again", "sha256")


def test_fingerprints_are_hmac_sha256_of_the_canonical_bytes() -> None:
    """The keyed fingerprint is unchanged by the precomputed states: HMAC-SHA256(key,
    canonical) in hex; the salted one is SHA-256(salt || canonical)."""
    key = b"a ledger key that is longer than sixty-four bytes, as keys from env may be!!"
    assert len(key) > 64
    keyed = Fingerprinter.keyed(key)
    for canonical in (b"", b'{"email":"a@example.com"}', b"x" * 500):
        assert keyed.of_bytes(canonical) == hmac.new(key, canonical, "sha256").hexdigest()
    salted = Fingerprinter.salted(b"salt")
    assert salted.of_bytes(b"v") == hashlib.sha256(b"saltv").hexdigest()
    assert keyed == Fingerprinter.keyed(key) and keyed != Fingerprinter.keyed(b"other")
    # copied and pickled as before the hash states were kept in it
    for copied in (copy.deepcopy(keyed), pickle.loads(pickle.dumps(keyed))):
        assert copied == keyed and copied.of_bytes(b"x") == keyed.of_bytes(b"x")

"""Decrypting age sources in memory: streamed, bounded, and failing loudly (never with
an unauthenticated byte, a key or plaintext in the message)."""

from __future__ import annotations

import io
import threading
import tracemalloc

import pyrage
import pytest
from pyrage import x25519

from reconciler.errors import ReconcilerError
from reconciler.inputs import InputRefused
from reconciler.manifests.encrypted import (
    decrypt_bytes,
    is_encrypted,
    open_decrypted,
    parse_identities,
    plain_name,
)

IDENTITY = x25519.Identity.generate()
OTHER = x25519.Identity.generate()


def encrypted(data: bytes, identity: x25519.Identity = IDENTITY) -> bytes:
    return pyrage.encrypt(data, [identity.to_public()])


def test_names():
    assert is_encrypted("a.csv.age") and not is_encrypted("a.csv")
    assert plain_name("specs/x.yaml.age") == "specs/x.yaml"


def test_a_large_csv_is_streamed_in_bounded_memory():
    row = b"u_1001,email,someone-%07d@example.com\n"
    plain = b"user_id,type,value\n" + b"".join(row % i for i in range(400_000))  # ~16 MB
    cipher = encrypted(plain)
    tracemalloc.start()
    try:
        total = 0
        with open_decrypted(io.BytesIO(cipher), [IDENTITY], "big.csv.age") as reader:
            while chunk := reader.read(65536):
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == len(plain)
    # the ciphertext is held by the test's BytesIO, not counted as allocated here
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: the plaintext was buffered whole"


def test_the_wrong_key_is_refused_naming_the_file_and_variable():
    with pytest.raises(InputRefused) as caught:
        with open_decrypted(io.BytesIO(encrypted(b"x")), [OTHER], "s.csv.age", "AGE_KEY") as r:
            r.read()
    assert "s.csv.age" in str(caught.value)
    assert "the identity in AGE_KEY" in caught.value.reason
    assert "another recipient" in caught.value.reason


@pytest.mark.parametrize("damage", ["altered", "truncated", "not-age"])
def test_a_damaged_file_fails_and_nothing_unauthenticated_is_returned(damage):
    plain = b"".join(b"row-%06d\n" % i for i in range(50_000))  # several 64 KiB chunks
    cipher = bytearray(encrypted(plain))
    if damage == "altered":
        cipher[len(cipher) // 2] ^= 0x01
    elif damage == "truncated":
        del cipher[len(cipher) - 1000 :]
    else:
        cipher = bytearray(b"user_id,type,value\n")
    got = bytearray()
    with pytest.raises(InputRefused) as caught:
        with open_decrypted(io.BytesIO(bytes(cipher)), [IDENTITY], "d.csv.age") as reader:
            while chunk := reader.read(4096):
                got += chunk
    assert "cannot be decrypted" in caught.value.reason
    assert plain.startswith(bytes(got)) and len(got) < len(plain)


def test_closing_early_stops_the_decrypting_thread():
    plain = b"x" * (8 * 1024 * 1024)
    before = {t.ident for t in threading.enumerate()}
    reader = open_decrypted(io.BytesIO(encrypted(plain)), [IDENTITY], "e.csv.age")
    assert reader.read(10) == b"x" * 10
    reader.close()
    left = [t for t in threading.enumerate() if t.ident not in before and t.name == "age-decrypt"]
    assert not left, "the decrypting thread outlived its reader"


def test_whole_decryption_is_bounded():
    with pytest.raises(InputRefused, match="more than the limit"):
        decrypt_bytes(encrypted(b"y" * 1000), [IDENTITY], "m.yaml.age", limit=999)
    assert decrypt_bytes(encrypted(b"ok"), [IDENTITY], "m.yaml.age", limit=2) == b"ok"


def test_identities_are_parsed_and_a_bad_one_is_never_quoted():
    text = f"# created: today\n# public key: {IDENTITY.to_public()}\n{IDENTITY}\n\n{OTHER}\n"
    assert len(parse_identities(text, "K")) == 2
    bad = "AGE-SECRET-KEY-1NOTAREALKEYBUTLOOKSLIKEONEQQQQ"
    for value in (bad, "hunter2-not-a-key", ""):
        with pytest.raises(ReconcilerError) as caught:
            parse_identities(value, "RECONCILE_AGE_KEY")
        assert "RECONCILE_AGE_KEY" in str(caught.value)
        if value:
            assert value not in str(caught.value)

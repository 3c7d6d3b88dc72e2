"""The report's seal: keyed (HMAC under a key derived from the ledger key) or a digest."""

from __future__ import annotations

from reconciler.report.seal import seal_of, seal_problem

DOC = {"kind": "reconciler-report", "requests": [{"manifest": "m", "items": []}]}


def test_a_keyed_seal_needs_the_key_and_finds_any_change() -> None:
    doc = {**DOC, "seal": seal_of(DOC, b"k1")}
    assert doc["seal"]["algorithm"] == "hmac-sha256"
    assert seal_problem(doc, b"k1") is None
    assert "key is not available" in str(seal_problem(doc, None))
    assert "does not match" in str(seal_problem(doc, b"k2"))  # another ledger's key
    changed = {**doc, "requests": [{"manifest": "n", "items": []}]}
    assert "does not match" in str(seal_problem(changed, b"k1"))
    # key order does not matter (canonical JSON), the seal member itself is not sealed
    reordered = {"seal": doc["seal"], "requests": doc["requests"], "kind": doc["kind"]}
    assert seal_problem(reordered, b"k1") is None


def test_an_unkeyed_seal_is_a_digest_anyone_can_check() -> None:
    doc = {**DOC, "seal": seal_of(DOC, None)}
    assert doc["seal"]["algorithm"] == "sha256"
    assert seal_problem(doc, None) is None and seal_problem(doc, b"any") is None
    assert seal_problem({**doc, "kind": "x"}, None) is not None
    assert seal_problem(DOC, None) == "the report has no seal"
    assert "unknown seal algorithm" in str(
        seal_problem({**DOC, "seal": {"algorithm": "md5", "value": "0"}}, None)
    )
    assert "ledger is keyed" in str(seal_problem(doc, b"k", keyed=True))  # no downgrade
    # the digest is not the keyed MAC: a keyed seal cannot be passed off as a digest
    assert seal_of(DOC, None)["value"] != seal_of(DOC, b"")["value"]

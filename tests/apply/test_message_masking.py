"""Vendor words are stored and shown masked, whatever spelling the vendor echoes."""

from __future__ import annotations

from reconciler.apply.session import MAX_MESSAGE, Redactor, clean
from reconciler.desired import Item
from reconciler.masking import Masker, map_values, mask, raw_values
from reconciler.plan.describe import describe

EMAIL = "Jane.Doe+vip@Example.com"


def test_echoed_spellings_of_a_value_are_masked() -> None:
    masker = Masker([EMAIL])
    for echoed in (
        EMAIL,
        EMAIL.lower(),
        "Jane.Doe%2Bvip%40Example.com",  # from a URL path
        "jane.doe%2bvip%40example.com",
        "Jane.Doe%2Bvip@Example.com",
        "Jane.Doe+vip%40Example.com".replace("+", "%2B"),
    ):
        out = masker.text(f"profile user_id:{echoed} not found")
        assert echoed not in out, echoed
        assert mask(EMAIL) in out


def test_values_are_masked_before_a_long_message_is_cut() -> None:
    masker = Masker([EMAIL])
    message = "x" * (MAX_MESSAGE - 5) + EMAIL + "y" * 100
    cleaned = clean(message, masker, Redactor([]))
    assert cleaned is not None
    assert len(cleaned) <= MAX_MESSAGE + 3
    assert "Jane" not in cleaned and "Jane.Doe"[:4] not in cleaned[-20:]


def test_a_custom_identifier_named_name_is_a_value() -> None:
    item = Item(
        "ins",
        "insider",
        {"custom": {"name": "Jane Q Customer"}},
        {"kind": "attribute", "name": "surname", "custom": False},
    )
    masked = map_values(item, mask)
    assert masked.locator == {"custom": {"name": mask("Jane Q Customer")}}
    assert masked.removal["name"] == "surname"  # an attribute name is structure
    assert "Jane Q Customer" in raw_values(item)
    assert "Jane Q Customer" not in describe(item)


def test_secrets_are_redacted_from_vendor_words() -> None:
    cleaned = clean("bad token tok-123456789", Masker([]), Redactor(["tok-123456789"]))
    assert cleaned == "bad token [redacted]"


def test_short_values_never_show_most_of_themselves() -> None:
    assert mask("+15555550100") == "+1555*****00"  # the CONTRACT's example
    assert mask("98765432") == "98****32"
    assert mask("mem_profile_x") == "mem_profile_*"
    for value in ("98765432", "+6598765432", "1234567", "u_1001", "ab12cd"):
        shown = sum(1 for a, b in zip(value, mask(value), strict=True) if a == b)
        assert shown <= len(value) // 2 + 2, (value, mask(value))


def test_case_folding_disagreements_never_crash_the_masker() -> None:
    # re.IGNORECASE matches 'σ' against a final 'ς'; str.lower() does not map them alike
    out = Masker(["ΟΔΥΣΣΕΑΣ", "ſtraße@example.com"]).text("user οδυσσεασ and STRASSE@example.com")
    assert "οδυσσεασ" not in out


def test_a_request_id_is_kept_only_when_it_is_a_plain_token_holding_nothing_personal() -> None:
    from reconciler.apply.session import Redactor, request_token
    from reconciler.masking import Masker

    masker = Masker(["jane@old-domain.example", "u_1001"])
    redact = Redactor(["sk-secret-token-1234"])
    keep = "5f1c2a9e-77b0-4c1e-9d2f-0a1b2c3d4e5f"
    assert request_token(keep, masker, redact) == keep
    assert request_token("req:abc.DEF_12-3", masker, redact) == "req:abc.DEF_12-3"
    for dropped in (
        "req-u_1001",  # a value of the request
        "sk-secret-token-1234",  # a secret
        "15555550100",  # shaped like a phone number
        "jane@old-domain.example",
        "<html>",
        "a b",
        "x" * 129,
        "",
        None,
    ):
        assert request_token(dropped, masker, redact) is None, dropped

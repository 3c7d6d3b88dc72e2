"""Identifier values are masked in every output unless --show-values: emails, phones,
external ids, Twilio profile ids, Segment user ids, Insider attribute values."""

from __future__ import annotations

import json

import pytest

from reconciler.masking import mask, raw_values
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.kit.specs import RAW_VALUES

# raw value -> how every output must show it masked
MASKS = {
    "jane@old-domain.example": "j***@old-domain.example",
    "+15555550100": "+1555*****00",
    "+15555550123": "+1555*****23",
    "loadtest-0001": "lo*********01",
    "loadtest+17@example.com": "l***@example.com",
    "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5": "mem_profile_01**********************o5",
    "u_1001": "u_**01",
    "9f1c2e7a-wrong-device": "9f*****************ce",
    "jane.doe@example.com": "j***@example.com",
    "+6598765432": "+6598****32",
    "pregnancy": "pr*****cy",
}

FORMATS = ["text", "json", "markdown"]


@pytest.fixture
def declared(proj: Proj) -> Proj:
    proj.add_all_vendors()
    proj.create_ledger()
    # a few states, so reason lines and the rejected section are rendered too
    seg = proj.items("seg")
    write_run(
        proj.ledger_dir,
        [
            (proj.fp(seg[0]), "seg", "unknown"),
            (proj.fp(seg[1]), "seg", "failed"),
            (proj.fp(seg[3]), "seg", "rejected"),
        ],
    )
    return proj


def test_mask_shapes() -> None:
    for raw, masked in MASKS.items():
        assert mask(raw) == masked


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_raw_value_in_any_format(declared: Proj, fmt: str) -> None:
    result = run_cli("plan", "--format", fmt, "--full")
    assert result.code == 0
    values = {v for i in declared.items() for v in raw_values(i)}
    assert set(RAW_VALUES) <= values
    for raw in values:
        assert raw not in result.out, raw
        assert raw not in result.err, raw
    # JSON escapes nothing here, but check the parsed form too
    if fmt == "json":
        flat = json.dumps(json.loads(result.out), ensure_ascii=False)
        for raw in values:
            assert raw not in flat, raw


@pytest.mark.parametrize("fmt", FORMATS)
def test_masked_forms_are_shown(declared: Proj, fmt: str) -> None:
    out = run_cli("plan", "--format", fmt).out
    for masked in MASKS.values():
        assert masked in out, (fmt, masked)
    # a segment user id in a URL path is masked, then escaped
    if fmt == "json":
        assert "user_id:u_%2A%2A01" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_values_shows_them(declared: Proj, fmt: str) -> None:
    pii = ["--i-know-this-posts-pii"] if fmt == "markdown" else []
    out = run_cli("plan", "--format", fmt, "--show-values", "--full", *pii).out
    for raw in ("+15555550100", "loadtest-0001", "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5",
                "+6598765432", "pregnancy", "jane.doe@example.com"):  # fmt: skip
        assert raw in out, (fmt, raw)
    assert "+1555*****00" not in out
    if fmt == "json":
        data = json.loads(out)
        assert data["values_shown"] is True
        mem = [a for a in data["actions"] if a["vendor"] == "twilio_memory"][0]
        assert "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5" in mem["request"]["path"]


def test_ledger_list_and_find_mask_too(declared: Proj) -> None:
    listed = run_cli("ledger", "list")
    found = run_cli("ledger", "find", "--target", "seg", "--value", "jane@old-domain.example")
    for result in (listed, found):
        for raw in RAW_VALUES:
            assert raw not in result.out, raw
    assert "j***@old-domain.example" in listed.out
    assert "j***@old-domain.example" in found.out
    shown = run_cli("ledger", "list", "--show-values")
    assert "jane@old-domain.example" in shown.out


@pytest.mark.parametrize(
    "value",
    ["@SUM(1+1)*cmd|' /C calc'!A0", "user:hunter2secret@host", "a@b@=cmd|' /C calc'!A0"],
)
def test_an_at_sign_shows_a_domain_only_when_there_is_one(value):
    # found by the hostile-input tests: everything after the last @ was shown in clear
    masked = mask(value)
    assert "cmd|" not in masked and "hunter2" not in masked and "calc" not in masked
    assert masked[:2] == value[:2] and masked[-2:] == value[-2:]
    assert mask("jane@old-domain.example") == "j***@old-domain.example"

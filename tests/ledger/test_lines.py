"""lines.py's byte-level readers of plain intent and result lines: what they return is
exactly what parsing the line whole and checking it by the field table gives (the record
without its list, the list as 16-byte keys), and any line that is not plain returns None
(the fold then parses it whole, as before)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.ledger.lines import intent_line, result_line
from reconciler.ledger.records import parse_record, problem_v2, result_columns_ok
from tests.ledger import reference_records
from tests.ledger.randomledger import random_ledger
from tests.ledger.sealed import lines_of

FP = [f"{i:02x}" + "9abcdef0" * 3 + "12345f" for i in range(1, 6)]  # 32 lowercase hex each
IDS = ["14e5f7dd-605c-438c-b9de-b513f18ca6f2", "r-2", "abc"]


def line_of(rec: dict[str, Any]) -> bytes:
    """As the writer encodes a record (compact, insertion order), with an id member."""
    return json.dumps({**rec, "m": "x" * 22}, separators=(",", ":"), ensure_ascii=False).encode()


def intent(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"type": "intent", "n": 1, "ts": "2026-12-01T00:00:00Z"}
    rec |= {"target": "seg", "fps": list(FP)}
    return rec | changes


def result(**changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"type": "result", "n": 2, "ts": "2026-12-01T00:00:01Z", "of": 1}
    rec |= {"at": 0, "s": "ddd", "code": 200, "request_id": list(IDS), "evidence": "removed"}
    return rec | changes


def whole_intent(line: bytes) -> tuple[dict[str, Any], bytes]:
    rec = parse_record(line)
    assert problem_v2(rec) is None
    keys = b"".join(bytes.fromhex(fp) for fp in rec.pop("fps"))
    return rec, keys


def whole_result(line: bytes) -> dict[str, Any]:
    rec = parse_record(line)
    assert problem_v2(rec) is None
    del rec["request_id"]
    return rec


def check_sound(line: bytes) -> None:
    """Whatever a reader accepts, parsing whole gives the same and the table accepts."""
    cut = intent_line(line)
    if cut is not None:
        assert cut == whole_intent(line), line
    got = result_line(line)
    if got is not None:
        assert got == whole_result(line), line


# -- plain lines --------------------------------------------------------------------------


def test_a_plain_intent_gives_the_record_and_its_keys() -> None:
    line = line_of(intent())
    cut = intent_line(line)
    assert cut is not None
    rec, keys = cut
    assert "fps" not in rec and rec["target"] == "seg" and rec["m"] == "x" * 22
    assert keys == b"".join(bytes.fromhex(fp) for fp in FP) and len(keys) == 16 * len(FP)
    assert cut == whole_intent(line)


def test_a_plain_result_gives_the_record_without_its_ids() -> None:
    line = line_of(result())
    rec = result_line(line)
    assert rec is not None and "request_id" not in rec
    assert rec == whole_result(line)
    assert rec["s"] == "ddd" and rec["code"] == 200


def test_a_single_item_and_an_all_digit_fingerprint() -> None:
    line = line_of(intent(fps=["0123456789" * 3 + "00"]))
    assert intent_line(line) == whole_intent(line)
    one = line_of(result(s="d", request_id=["only"]))
    assert result_line(one) == whole_result(one)


def test_the_writers_lines_read_as_parsed(tmp_path: Path) -> None:
    """Every intent and result of random ledgers (RunWriter's own lines): the plain ones
    give what parsing whole gives; no plain intent is refused."""
    ledger_dir = tmp_path / "ledger"
    random_ledger(ledger_dir, 7, items=800, runs=8, keyed=True, legacy_runs=0)
    intents = results = 0
    for path in sorted((ledger_dir / "runs").iterdir()):
        for line in lines_of(path):
            rec = json.loads(line)
            check_sound(line)
            if rec["type"] == "intent" and "sizes" not in rec and b"\\" not in line:
                assert intent_line(line) is not None, line
                intents += 1
            ids = rec.get("request_id")
            columns = [rec.get(c) for c in ("code", "message", "evidence")]
            single = all(type(c) is not list for c in columns) and "vendor_code" not in rec
            if rec["type"] == "result" and type(ids) is list and None not in ids and single:
                if b"\\" not in line and all("," not in i and i.isascii() for i in ids):
                    assert result_line(line) is not None, line
                    results += 1
    assert intents > 20 and results > 0


# -- lines that are not plain: parsed whole by the caller --------------------------------

_SECOND = FP[1].encode()
NOT_PLAIN_INTENTS = {
    "a backslash": line_of(intent(target="se\\g")),
    "an escaped character": line_of(intent(target="s\u00e9g")).replace("é".encode(), b"\\u00e9"),
    "fps twice": line_of(intent()).replace(b'"target"', b'"fps":["' + FP[0].encode() + b'"],"t"'),
    "fps twice, the empty one last": line_of(intent()).replace(b',"m"', b',"fps":[],"m"'),
    "fps nested": line_of(intent(fps=[], x={"fps": list(FP)})),
    "upper-case hex": line_of(intent(fps=[FP[0].upper(), *FP[1:]])),
    "mixed-case hex": line_of(intent(fps=["A" + FP[0][1:]])),
    "a short fingerprint": line_of(intent(fps=[FP[0][:31], *FP[1:]])),
    "a long fingerprint": line_of(intent(fps=[FP[0] + "0", *FP[1:]])),
    "a 64-hex fingerprint": line_of(intent(fps=[FP[0] * 2])),
    "not hex": line_of(intent(fps=["g" * 32])),
    "a number in the list": line_of(intent(fps=[FP[0], 7])),
    "an empty list": line_of(intent(fps=[])),
    "no list": line_of({k: v for k, v in intent().items() if k != "fps"}),
    "sizes": line_of(intent(sizes=[2, 3])),
    "no target": line_of({k: v for k, v in intent().items() if k != "target"}),
    "a negative n": line_of(intent(n=-1)),
    "n true": line_of(intent(n=True)),
    "another type": line_of(intent(type="refresh", s="ppppp")),
    "trailing garbage": line_of(intent()) + b"x",
    "a second object": line_of(intent()) + b"{}",
    "cut short": line_of(intent())[:-3],
    "a space in the list": line_of(intent()).replace(_SECOND + b'","', _SECOND + b'", "'),
    "a comma for a quote": line_of(intent()).replace(_SECOND + b'","', _SECOND + b',",'),
    # two short strings where one fingerprint belongs: every quote and comma where the
    # list's shape puts one, and one more '","' inside the first item
    "two strings in one item's place": line_of(intent(fps=[FP[0][:10], FP[0][13:], *FP[1:]])),
    "all digits, upper case elsewhere": line_of(intent(fps=["0" * 32, FP[1].upper()])),
}


@pytest.mark.parametrize("name", NOT_PLAIN_INTENTS)
def test_an_intent_that_is_not_plain_is_left_to_the_parser(name: str) -> None:
    line = NOT_PLAIN_INTENTS[name]
    assert intent_line(line) is None
    check_sound(line)


NOT_PLAIN_RESULTS = {
    "a backslash": line_of(result(message="a\\b")),
    "an escaped quote in an id": line_of(result(request_id=['a"b', "c", "d"])),
    "a non-ASCII request id": line_of(result(request_id=["r\u00e9", "c", "d"])),
    "invalid UTF-8 in an id": line_of(result()).replace(b"r-2", b"r-\xff"),
    "a control character in an id": line_of(result()).replace(b"r-2", b"r-\x01"),
    "a comma inside an id": line_of(result(request_id=["a,b", "c", "d"])),
    "commas only": line_of(result(request_id=[",", ",", ","])),
    "a null id": line_of(result(request_id=["a", None, "d"])),
    "a number id": line_of(result(request_id=["a", 5, "d"])),
    "too few ids": line_of(result(request_id=["a", "b"])),
    "too many ids": line_of(result(request_id=["a", "b", "c", "d"])),
    "an empty list": line_of(result(request_id=[])),
    "no list": line_of(result(request_id="one")),
    "request_id twice": line_of(result()).replace(b',"m"', b',"request_id":[],"m"'),
    "request_id nested": line_of(result(request_id=None, x={"request_id": list(IDS)})),
    "a bracket in an id": line_of(result(request_id=["a]", "b", "c"])),
    "an unknown letter": line_of(result(s="dzd")),
    "a list of evidence": line_of(result(evidence=["removed", None, "absent"])),
    "a vendor code": line_of(result(vendor_code="eid_not_found")),
    "an unknown evidence": line_of(result(evidence="gone")),
    "a code that is text": line_of(result(code="200")),
    "another type": line_of(result(type="withdraw")),
    "trailing garbage": line_of(result()) + b" ]",
    "cut short": line_of(result())[:-3],
}


@pytest.mark.parametrize("name", NOT_PLAIN_RESULTS)
def test_a_result_that_is_not_plain_is_left_to_the_parser(name: str) -> None:
    line = NOT_PLAIN_RESULTS[name]
    assert result_line(line) is None
    check_sound(line)


# -- random lines --------------------------------------------------------------------------

ALPHABET = b'"\\,[]{}:0123456789abcdefABCDEFgxyz .-\x01\x7f\xc3\xa9\xff'


def test_mutated_lines_are_read_as_parsed_or_refused() -> None:
    """Plain lines with bytes changed, inserted or removed at random: whatever a reader
    still accepts is what parsing the line whole gives, and the field table accepts it."""
    rng = random.Random(11)
    bases = [line_of(intent()), line_of(result()), line_of(result(s="d.a", code=[200, None, 202]))]
    accepted = 0
    for _ in range(20000):
        line = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(line))
            byte = ALPHABET[rng.randrange(len(ALPHABET))]
            how = rng.random()
            if how < 0.5:
                line[pos] = byte
            elif how < 0.8:
                line.insert(pos, byte)
            else:
                del line[pos]
        raw = bytes(line)
        try:
            check_sound(raw)
        except (ValueError, RecursionError):
            raise AssertionError(f"accepted a line that does not parse: {raw!r}") from None
        accepted += intent_line(raw) is not None or result_line(raw) is not None
    assert accepted > 500  # many mutations keep a line plain (a hex digit for a hex digit)


_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
_fp = st.one_of(_hex32, st.text(min_size=0, max_size=34), _hex32.map(str.upper))
_text = st.text(max_size=12)
_id = st.one_of(st.text("abcdef0123456789-", min_size=1, max_size=40), _text, st.none())


@settings(max_examples=400, deadline=None)
@given(
    fps=st.lists(_fp, max_size=6),
    target=_text,
    n=st.one_of(st.integers(-2, 5), st.booleans()),
    sizes=st.one_of(st.none(), st.lists(st.integers(0, 3), max_size=3)),
)
def test_random_intents_match_the_parser(
    fps: list[str], target: str, n: int, sizes: list[int] | None
) -> None:
    rec = intent(fps=fps, target=target, n=n)
    if sizes is not None:
        rec["sizes"] = sizes
    line = line_of(rec)
    check_sound(line)
    plain = (
        fps
        and all(len(f) == 32 and f == f.lower() and f.isascii() for f in fps)
        and all(c in "0123456789abcdef" for f in fps for c in f)
        and type(n) is int
        and n >= 0
        and sizes is None
        and b"\\" not in line
    )
    assert (intent_line(line) is not None) == bool(plain)


@settings(max_examples=400, deadline=None)
@given(
    ids=st.lists(_id, min_size=0, max_size=5),
    s=st.text("adfx.z", min_size=0, max_size=5),
    code=st.one_of(st.none(), st.integers(100, 599), st.text(max_size=3)),
    evidence=st.sampled_from([None, "removed", "absent", "gone"]),
)
def test_random_results_match_the_parser(
    ids: list[str | None], s: str, code: int | str | None, evidence: str | None
) -> None:
    rec = result(request_id=ids, s=s, code=code, evidence=evidence)
    line = line_of(rec)
    check_sound(line)
    # a null code or evidence is valid, but only the field table's own walk says so
    whole_ok = problem_v2(parse_record(line)) is None and code is not None
    plain = (
        whole_ok
        and evidence is not None
        and ids
        and all(type(i) is str and i.isascii() and "," not in i and i.isprintable() for i in ids)
        and b"\\" not in line
    )
    assert (result_line(line) is not None) == bool(plain), line


# -- the result's fast check agrees with the reference --------------------------------------

ID_LISTS = {
    "strings": ["a", "b", "c"],
    "a null": ["a", None, "c"],
    "all null": [None, None, None],
    "a number": ["a", 5, "c"],
    "a list": ["a", ["b"], "c"],
    "an object": [{"x": 1}, "b", "c"],
    "a boolean": ["a", "b", True],
    "too short": ["a", "b"],
}


@pytest.mark.parametrize("field_name", ["request_id", "note"])
@pytest.mark.parametrize("name", ID_LISTS)
def test_the_fast_result_check_agrees_with_the_reference(field_name: str, name: str) -> None:
    """result_columns_ok (what problem_v2 tries first for every result) accepts a list of
    per-item strings exactly when the validation before the field table did
    (tests/ledger/reference_records.py): strings or nulls, one per item."""
    rec = parse_record(line_of(result(**{field_name: ID_LISTS[name]})))
    accepted = result_columns_ok(rec)
    reference = reference_records.problem_v2(rec)
    assert accepted == (reference is None), reference
    assert accepted == (name in ("strings", "a null", "all null"))
    assert (problem_v2(rec) is None) == accepted

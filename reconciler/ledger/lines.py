"""Reading the two record kinds a ledger is made of without a Python object per item.

An intent names up to thousands of items (`fps`, 32 hex each) and a result carries one
request id per item (`request_id`); parsing those lists into strings is most of the work
of reading a ledger. When a line has the plain form the writer gives it, the list is cut
out and checked with bytes operations, in C, over the whole list at once, and the rest of
the line is parsed as JSON; the items come out as one block of 16-byte keys
(reconciler.ledger.table). The checks accept a line only when parsing it whole would give
the same record and the field table (reconciler.ledger.records) would accept it;
anything else (no such list, a backslash anywhere, another character in a list, a
duplicated field) returns None and the caller parses the line whole, as before, with the
same messages for what is wrong.
"""

from __future__ import annotations

from binascii import Error as HexError
from binascii import unhexlify
from typing import Any

from reconciler.ledger.records import FP_CHARS, INTENT, RESULT, parse_record, result_columns_ok

_FPS = b'"fps":["'
_FPS_NAME = b'"fps"'
_REQUEST_IDS = b'"request_id":["'
_REQUEST_IDS_NAME = b'"request_id"'
_FP_ITEM = FP_CHARS + 3  # "<32 hex>",
_CONTROL = bytes(range(32))  # not taken raw inside a JSON string
# bytes `in` an int is memchr; `in` bytes first tries the bytes as an int and formats the
# TypeError it gets (2,000 instructions) before it searches
_BACKSLASH = ord("\\")
_A, _B, _C, _D, _E, _F = b"ABCDEF"  # upper-case hex digits


def intent_line(line: bytes) -> tuple[dict[str, Any], bytes] | None:
    """(the intent record without its `fps`, its items' keys: 16 bytes each), or None
    when the line is not a plain intent the field table accepts."""
    if _BACKSLASH in line:
        return None  # every quote is then a delimiter: the cut below is exact
    at = line.find(_FPS)
    if at < 0:
        return None
    start = at + len(_FPS) - 1  # the list's first quote
    end = line.find(b"]", start)
    if end < 0:
        return None
    items = line[start:end]
    k, rest = divmod(len(items) + 1, _FP_ITEM)
    if rest or not k:
        return None
    # The 3k-1 places a quote or comma belongs ("<32>","<32>",...) hold one, and the
    # line has no other: so every other byte is one of 32 per item, hex (unhexlify) and
    # not upper case; and `fps` is named once (a second one, or this one nested, would be
    # what parsing the line whole reads). One-byte replace and `in` run on memchr: a
    # translate, islower or hexlify over the list looked at every byte in turn.
    hexes = items.replace(b'"', b"").replace(b",", b"")
    if (
        len(hexes) != FP_CHARS * k
        or items[0::_FP_ITEM] != b'"' * k
        or items[FP_CHARS + 1 :: _FP_ITEM] != b'"' * k
        or items[FP_CHARS + 2 :: _FP_ITEM] != b"," * (k - 1)
        or _A in hexes
        or _B in hexes
        or _C in hexes
        or _D in hexes
        or _E in hexes
        or _F in hexes
        or line.find(_FPS_NAME, 0, at) >= 0
        or line.find(_FPS_NAME, end) >= 0
    ):
        return None
    try:
        keys = unhexlify(hexes)
        rec = parse_record(line[:start] + line[end:])
    except (ValueError, RecursionError, HexError):
        return None
    if not (
        type(rec) is dict
        and rec.get("type") == INTENT
        and rec.get("fps") == []
        and type(rec.get("n")) is int
        and rec["n"] >= 0
        and type(rec.get("ts")) is str
        and type(rec.get("target")) is str
        and "sizes" not in rec
    ):
        return None
    del rec["fps"]
    return rec, keys


def result_line(line: bytes) -> dict[str, Any] | None:
    """The result record without its list of request ids (checked: one string per
    letter of `s`), or None when the line is not a plain result the field table
    accepts."""
    if _BACKSLASH in line:
        return None
    at = line.find(_REQUEST_IDS)
    if at < 0:
        return None
    start = at + len(_REQUEST_IDS) - 1
    end = line.find(b"]", start)
    if end < 0:
        return None
    ids = line[start:end]
    if (
        not ids.isascii()  # no UTF-8 to check
        or len(ids.translate(None, _CONTROL)) != len(ids)
        or line.find(_REQUEST_IDS_NAME, 0, at) >= 0
        or line.find(_REQUEST_IDS_NAME, end) >= 0
    ):
        return None
    try:
        rec = parse_record(line[:start] + line[end:])
    except (ValueError, RecursionError):
        return None
    if not (
        type(rec) is dict
        and rec.get("type") == RESULT
        and rec.get("request_id") == []
        and type(rec.get("n")) is int
        and rec["n"] >= 0
        and type(rec.get("ts")) is str
        and type(rec.get("s")) is str
    ):
        return None
    # "x1","x2",...,"xk": quotes only at both ends and around each comma, no comma
    # inside a string, so exactly k strings
    k = len(rec["s"])
    if (
        ids[:1] != b'"'
        or ids[-1:] != b'"'
        or ids[1:2] == b","
        or ids[-2:-1] == b","
        or ids.count(b'"') != 2 * k
        or ids.count(b",") != k - 1
        or ids.count(b'","') != k - 1
    ):
        return None
    del rec["request_id"]
    return rec if result_columns_ok(rec) else None

"""Ledger records: their kinds, item states, and what each kind must hold.

Two formats live side by side in one ledger, one per run file:

Format 1 (written until 0.1.x): one record per item event, `type`, `run`, `ts`, the item's
full 64-hex fingerprint `fp`, and `prev`, the SHA-256 of the line before (the first line of
a file points at the newest record the ledger held when the run began).

Format 2 (written now): one record per *group* of items. Every line is compact JSON whose
last member is `"m"`, the record's id: HMAC-SHA256 under a key derived from the ledger key
(or, in a ledger made without a key, a SHA-256 with a fixed label) over the previous
record's id and the line's own bytes without `m`, cut to 128 bits (22 base64url
characters). Items are named by the first 128 bits of their fingerprint (32 hex); results
point at their intent record (`of`, its number `n` in the run) and at positions in it
(`at`, one state letter per item in `s`). See the README, "The ledger".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.states import ACCEPTED, DONE, FAILED, REJECTED, RESULT_STATES

FORMAT_VERSION = 2
HEADER_VERSIONS = (1, 2)

HEADER = "header"
RUN = "run"
PART = "part"
INTENT = "intent"
RESULT = "result"
WITHDRAW = "withdraw"
REFRESH = "refresh"
RESOLUTION = "resolution"
UNLOCK = "unlock"
END = "end"
RECORD_TYPES = frozenset({RUN, PART, INTENT, RESULT, WITHDRAW, REFRESH, RESOLUTION, UNLOCK, END})

# Item states (CONTRACT section 5) are in reconciler/states.py

# Why a `done` is done (CONTRACT section 5)
EVIDENCE = frozenset({"removed", "absent", "confirmed", "resolved"})

# A result's state, one letter per item in `s`; "." marks a position with no result here
STATE_LETTER = {ACCEPTED: "a", DONE: "d", FAILED: "f", REJECTED: "x"}
LETTER_STATE = {v: k for k, v in STATE_LETTER.items()}
NO_RESULT = "."

# What a refresh saw at the vendor, one letter per item
OBSERVATIONS = ("present", "absent", "unverified")
OBSERVED_LETTER = {"present": "p", "absent": "a", "unverified": "u"}
LETTER_OBSERVED = {v: k for k, v in OBSERVED_LETTER.items()}
OBSERVED = {"present": True, "absent": False}  # format 1: refresh `observed`

# A person's decision about one item (`reconcile ledger resolve`)
RESOLUTIONS = ("done", "absent", "pending")

GENESIS = "0" * 64
FP_CHARS = 32  # the fingerprint prefix records hold: 128 bits
ID_CHARS = 22  # a format-2 record id: 128 bits in base64url


def encode(record: dict[str, Any]) -> bytes:
    """A format-1 record's one line (sorted keys), without the newline."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


# The C scanner JSONDecoder.__init__ sets (typeshed does not declare the attribute).
_scan: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]


def parse_record(line: bytes) -> Any:
    """`json.loads(line)`, with the C scanner called directly for the usual record line
    (json.loads would first sniff the encoding of every line)."""
    try:
        text = line.decode("utf-8", "surrogatepass")
        value, end = _scan(text, 0)
    except (UnicodeDecodeError, StopIteration):
        return json.loads(line)
    if end != len(text):
        return json.loads(line)  # raises, as for any trailing garbage
    return value


_BODY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_body(record: dict[str, Any]) -> bytes:
    """A format-2 record's bytes before its id is added: compact, in insertion order."""
    return _BODY.encode(record).encode("utf-8")


# -- the field table ---------------------------------------------------------------------
#
# Every field a record kind holds that the fold or a ledger command reads: its name, its
# kind of value (one of the checks below), whether it must be there, and what it means.
# Validation (`problem_v2`, `record_problem`) walks this table; the fold reads exactly
# these fields (reconciler.ledger.fold: one small fold per kind), and RESULT_COLUMNS (the
# optional per-item values of a result) comes from it. Checks run in two passes, the
# table's order each time: first every field's presence and JSON type, then the checks of
# values against other fields (a resolution's `fp` length, a part's number, an intent's
# `sizes`), so a record with several problems is reported by its first one.


@dataclass(frozen=True)
class Field:
    name: str
    check: str  # a key of CHECKS (the JSON type and form of the value)
    required: bool
    meaning: str
    of: type | None = None  # a result column: the type of each value


def _f(name: str, check: str, meaning: str, required: bool = True) -> Field:
    return Field(name, check, required, meaning)


def _column(name: str, of: type, meaning: str) -> Field:
    return Field(name, "column", False, meaning, of)


_N = _f("n", "count", "the record's number in its run, from 0")
_TS = _f("ts", "text", "when it was written (UTC, ISO 8601)")

# format 2 (written now): `type` and `m` (the record's id) are read by the reader itself
FIELDS: dict[str, tuple[Field, ...]] = {
    RUN: (
        _N,
        _TS,
        _f("after", "anchors", "the ids of every head the ledger had when the run began"),
        _f("run", "text", "the run id"),
        _f("targets", "targets", "target name -> the account it reached", required=False),
    ),
    PART: (
        _N,
        _TS,
        _f("run", "text", "the run this file continues"),
        _f("after", "text", "the id of the run's record before it (in the previous part)"),
        _f("part", "part", "this part's number, from 2"),
    ),
    INTENT: (
        _N,
        _TS,
        _f("target", "text", "the target the requests go to"),
        _f("fps", "fps", "the items, by the first 128 bits of their fingerprint (32 hex)"),
        _f("sizes", "sizes", "items per request, when not one or all", required=False),
    ),
    RESULT: (
        _N,
        _TS,
        _f("of", "count", "the number of the intent it answers"),
        _f("at", "count", "the position in that intent of the first item answered"),
        _f("s", "states", "one state letter per item from `at` ('.': not answered here)"),
        _column("code", int, "the vendor's HTTP status"),
        _column("message", str, "what the vendor said, masked"),
        _column("request_id", str, "the vendor's id of the request"),
        _column("note", str, "what reconciler noted (a retry, a count unconfirmed)"),
        _column("evidence", str, "why a done is done (removed, absent, confirmed, resolved)"),
        _column("vendor_code", str, "the vendor's own code for the answer (eid_not_found)"),
    ),
    WITHDRAW: (
        _N,
        _TS,
        _f("of", "count", "the number of the intent whose requests were never sent"),
        _f("pos", "positions", "the positions in it of the items withdrawn"),
    ),
    REFRESH: (
        _N,
        _TS,
        _f("target", "text", "the target read"),
        _f("fps", "fps", "the items read"),
        _f("s", "observed", "one letter per item: present, absent, unverified"),
    ),
    RESOLUTION: (
        _N,
        _TS,
        _f("target", "text", "the item's target"),
        _f("fp", "fp", "the item"),
        _f("as", "decision", "the decision: done, absent or pending"),
        _f("reason", "text", "why, in the person's words (emails masked)"),
        _f("who", "text", "who decided"),
    ),
    UNLOCK: (
        _N,
        _TS,
        _f("lock", "text", "the id of the lock broken"),
        _f("who", "text", "who broke it"),
    ),
    END: (_N, _TS),
}

# Optional per-item fields of a result record: one value for every item, or a list with
# one value (or null) per letter of `s`
RESULT_COLUMNS: dict[str, type] = {f.name: f.of for f in FIELDS[RESULT] if f.of is not None}

# format 1 (0.1.x): one record per item event; `prev` is checked by the reader
_RUN1 = _f("run", "text", "the run id")
LEGACY_FIELDS: dict[str, tuple[Field, ...]] = {
    RUN: (_RUN1, _TS, _f("targets", "targets", "target -> account", required=False)),
    INTENT: (
        _RUN1,
        _TS,
        _f("fp", "text", "the item's full fingerprint (64 hex)"),
        _f("target", "text", "the target"),
    ),  # fmt: skip
    RESULT: (
        _RUN1,
        _TS,
        _f("fp", "text", "the item's full fingerprint"),
        _f("target", "text", "the target"),
        _f("status", "status", "the result state"),
        _f("code", "code1", "the vendor's HTTP status", required=False),
        _f("message", "message1", "what the vendor said", required=False),
    ),
    REFRESH: (
        _RUN1,
        _TS,
        _f("fp", "text", "the item's full fingerprint"),
        _f("target", "text", "the target"),
        _f("observed", "observed1", "present or absent"),
    ),
    END: (_RUN1, _TS),
}
LEGACY_TYPES = frozenset(LEGACY_FIELDS)

# -- the checks: (record, kind, field) -> a problem or None; CHECKS[name] = (type pass,
# value pass). `field.name` is in the record when a value pass runs.

Check = Callable[[dict[str, Any], str, Field], "str | None"]


def show(value: Any) -> str:
    """A value from a record, for a message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    if f.name not in rec:
        return f"{kind} record without '{f.name}'"
    if type(rec[f.name]) is not str:
        return f"{kind} record whose '{f.name}' is not a string: {show(rec[f.name])}"
    return None


def _count(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    value = rec.get(f.name)
    if type(value) is not int or value < 0:
        return f"{kind} record whose '{f.name}' is not a number: {show(value)}"
    return None


def _part(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    if rec[f.name] < 2:
        return f"part record whose 'part' is not 2 or more: {rec['part']}"
    return None


def _anchors(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    after = rec.get(f.name)
    if not isinstance(after, list) or not all(type(a) is str for a in after) or not after:
        return "run record without the list of records it continues from ('after')"
    return None


def _targets(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    targets = rec.get(f.name)
    if targets is not None and not (
        isinstance(targets, dict) and all(type(v) is str for v in targets.values())
    ):
        return f"run record whose 'targets' is not an object of strings: {show(targets)}"
    return None


_STR = {str}
_FP_LEN = {FP_CHARS}


def _fps(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    fps = rec.get(f.name)
    if type(fps) is not list or not fps:
        return f"{kind} record without a list of fingerprints 'fps'"
    # whole-list checks in C: a ledger holds millions of fingerprints
    if set(map(type, fps)) == _STR and set(map(len, fps)) == _FP_LEN:
        return None
    for fp in fps:
        if type(fp) is not str or len(fp) != FP_CHARS:
            return f"{kind} record with a fingerprint that is not {FP_CHARS} characters: {show(fp)}"
    return None  # pragma: no cover - the sets above said otherwise


def _sizes(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    sizes = rec.get(f.name)
    if sizes is not None and not (
        isinstance(sizes, list)
        and all(type(x) is int and x > 0 for x in sizes)
        and sum(sizes) == len(rec["fps"])
    ):
        return f"intent record whose 'sizes' do not add up to its items: {show(sizes)}"
    return None


def _letters(rec: dict[str, Any], kind: str, allowed: str, size: int | None) -> str | None:
    s = rec.get("s")
    if type(s) is not str or not s:
        return f"{kind} record without its item letters 's'"
    bad = set(s) - set(allowed)
    if bad:
        return f"{kind} record with an unknown item letter {show(min(bad))}"
    if size is not None and len(s) != size:
        return f"{kind} record whose 's' has {len(s)} letters for {size} items"
    return None


def _states(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    return _letters(rec, kind, "adfx.", None)


def _observed(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    return _letters(rec, kind, "pau", len(rec["fps"]))


_NONE = type(None)
_STR_OR_NONE = {str, _NONE}
_EVIDENCE_OR_NONE = EVIDENCE | {None}


def _column_check(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    value = rec.get(f.name)
    if value is None:
        return None
    name, kind_of, size = f.name, f.of, len(rec["s"])
    assert kind_of is not None
    if type(value) is list:
        if len(value) != size:
            return f"result record whose '{name}' has {len(value)} values for {size} items"
        if set(map(type, value)) <= {kind_of, _NONE}:  # in C, for every item at once
            if name != "evidence" or set(value) <= _EVIDENCE_OR_NONE:
                return None
        values = value
    else:
        values = [value]
    for v in values:
        if v is not None and type(v) is not kind_of:
            return f"result record whose '{name}' is not a {kind_of.__name__}: {show(v)}"
        if name == "evidence" and v is not None and v not in EVIDENCE:
            return f"result record with an unknown evidence {show(v)}"
    return None


def _positions(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    pos = rec.get(f.name)
    if not (isinstance(pos, list) and pos and all(type(p) is int and p >= 0 for p in pos)):
        return "withdraw record without a list of positions 'pos'"
    return None


def _fp(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    if len(rec[f.name]) != FP_CHARS:
        return f"resolution record whose 'fp' is not {FP_CHARS} characters"
    return None


def _decision(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    if rec[f.name] not in RESOLUTIONS:
        return f"resolution record with an unknown decision {show(rec['as'])}"
    return None


def _status1(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    if rec[f.name] not in RESULT_STATES:
        return f"result record with an unknown status {show(rec['status'])}"
    return None


def _code1(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    code = rec.get(f.name)
    if code is not None and type(code) is not int:
        return f"result record whose 'code' is not an integer: {show(code)}"
    return None


def _message1(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    message = rec.get(f.name)
    if message is not None and type(message) is not str:
        return f"result record whose 'message' is not a string: {show(message)}"
    return None


def _observed1(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    if rec[f.name] not in OBSERVED:
        return (
            f"refresh record with an unknown observation {show(rec['observed'])} "
            "(present or absent)"
        )
    return None


def _nothing(rec: dict[str, Any], kind: str, f: Field) -> str | None:
    return None


CHECKS: dict[str, tuple[Check, Check]] = {
    "text": (_text, _nothing),
    "count": (_count, _nothing),
    "part": (_count, _part),
    "anchors": (_anchors, _nothing),
    "targets": (_targets, _nothing),
    "fps": (_fps, _nothing),
    "sizes": (_nothing, _sizes),
    "states": (_states, _nothing),
    "observed": (_observed, _nothing),
    "column": (_column_check, _nothing),
    "positions": (_positions, _nothing),
    "fp": (_text, _fp),
    "decision": (_text, _decision),
    # format 1: the texts first, then the values (as 0.1.x's reader did)
    "status": (_text, _status1),
    "code1": (_nothing, _code1),
    "message1": (_nothing, _message1),
    "observed1": (_text, _observed1),
}


def _fields_problem(rec: dict[str, Any], kind: str, fields: tuple[Field, ...]) -> str | None:
    for f in fields:
        problem = CHECKS[f.check][0](rec, kind, f)
        if problem is not None:
            return problem
    for f in fields:
        problem = CHECKS[f.check][1](rec, kind, f)
        if problem is not None:
            return problem
    return None


def _kind_problem(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return "not a record (a JSON object was expected)"
    if "type" not in rec:
        return "record without 'type'"
    kind = rec["type"]
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        if kind == HEADER:
            return "header record out of place (only header.jsonl holds one)"
        return f"unknown record type {show(kind)}"
    return None


# -- format 1 ------------------------------------------------------------------------


def record_problem(rec: Any) -> str | None:
    """What is wrong with a parsed format-1 run-file record, in plain words, or None when
    it holds every field the fold and the ledger commands read (LEGACY_FIELDS), with the
    right JSON type.

    The hash chain (`prev`) is not checked here: the reader compares it with the line
    before.
    """
    problem = _kind_problem(rec)
    if problem is not None:
        return problem
    kind = rec["type"]
    if kind not in LEGACY_TYPES:
        return f"a {kind} record in a format-1 run file"
    return _fields_problem(rec, kind, LEGACY_FIELDS[kind])


# -- format 2 ------------------------------------------------------------------------


_LETTERS = str.maketrans("", "", "adfx.")


def problem_v2(rec: Any) -> str | None:
    """What is wrong with a parsed format-2 record, or None when it holds what the fold
    reads (FIELDS) with the right JSON types. Its id and number are checked by the reader.

    The two kinds a ledger is made of (intents, results of one state) are checked on a
    fast path first (the same checks as the table's, written out): millions of items go
    through here."""
    if type(rec) is dict:
        kind = rec.get("type")
        n = rec.get("n")
        if type(n) is int and n >= 0 and type(rec.get("ts")) is str:
            if kind == INTENT:
                fps = rec.get("fps")
                if (
                    type(rec.get("target")) is str
                    and type(fps) is list
                    and fps
                    and "sizes" not in rec
                    and set(map(type, fps)) == _STR
                    and set(map(len, fps)) == _FP_LEN
                ):
                    return None
            elif kind == RESULT and result_columns_ok(rec):
                return None
    problem = _kind_problem(rec)
    if problem is not None:
        return problem
    kind = rec["type"]
    return _fields_problem(rec, kind, FIELDS[kind])


def result_columns_ok(rec: dict[str, Any]) -> bool:
    """The fast check of a result record (its `n` and `ts` checked already): True only
    when the table's checks would pass. Each field is read once (millions of records)."""
    get = rec.get
    s, of, at = get("s"), get("of"), get("at")
    evidence = get("evidence", "removed")
    if not (
        type(of) is int
        and type(at) is int
        and of >= 0
        and at >= 0
        and type(s) is str
        and s
        and not s.translate(_LETTERS)
        and type(get("code", 0)) is int
        and type(get("message", "")) is str
        and type(evidence) is str  # a list: the table's check
        and evidence in EVIDENCE
        and "vendor_code" not in rec
    ):
        return False
    for value in (get("request_id"), get("note")):  # a string, or one string or null per item
        if value is None or type(value) is str:
            continue
        if type(value) is list and len(value) == len(s):
            try:
                "".join(value)  # all strings (the usual list), checked in C
                continue
            except TypeError:  # a null among them, or something else
                if set(map(type, value)) <= _STR_OR_NONE:
                    continue
        return False
    return True

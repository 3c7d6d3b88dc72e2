"""Record validation as it was before the field table (commit 70db38f), the reference
for tests/ledger/test_fold_equivalence.py.

Ledger records: their kinds, item states, and what each kind must hold.

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
LEGACY_TYPES = frozenset({RUN, INTENT, RESULT, REFRESH, END})
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

# Optional per-item fields of a result record: one value for every item, or a list with
# one value (or null) per letter of `s`
RESULT_COLUMNS: dict[str, type] = {
    "code": int,
    "message": str,
    "request_id": str,
    "note": str,
    "evidence": str,
    "vendor_code": str,  # the vendor's own code for the answer (eid_not_found, 20404)
}

GENESIS = "0" * 64
FP_CHARS = 32  # the fingerprint prefix records hold: 128 bits
ID_CHARS = 22  # a format-2 record id: 128 bits in base64url


def encode(record: dict[str, Any]) -> bytes:
    """A format-1 record's one line (sorted keys), without the newline."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


_BODY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_body(record: dict[str, Any]) -> bytes:
    """A format-2 record's bytes before its id is added: compact, in insertion order."""
    return _BODY.encode(record).encode("utf-8")


def show(value: Any) -> str:
    """A value from a record, for a message: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- format 1 ------------------------------------------------------------------------

_COMMON = ("run", "ts")
REQUIRED_TEXT: dict[str, tuple[str, ...]] = {
    RUN: _COMMON,
    INTENT: (*_COMMON, "fp", "target"),
    RESULT: (*_COMMON, "fp", "target", "status"),
    REFRESH: (*_COMMON, "fp", "target", "observed"),
    END: _COMMON,
}


def record_problem(rec: Any) -> str | None:
    """What is wrong with a parsed format-1 run-file record, in plain words, or None when
    it holds every field the fold and the ledger commands read, with the right JSON type.

    The hash chain (`prev`) is not checked here: the reader compares it with the line
    before.
    """
    if not isinstance(rec, dict):
        return "not a record (a JSON object was expected)"
    if "type" not in rec:
        return "record without 'type'"
    kind = rec["type"]
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        if kind == HEADER:
            return "header record out of place (only header.jsonl holds one)"
        return f"unknown record type {show(kind)}"
    if kind not in LEGACY_TYPES:
        return f"a {kind} record in a format-1 run file"
    for name in REQUIRED_TEXT[kind]:
        if name not in rec:
            return f"{kind} record without '{name}'"
        if type(rec[name]) is not str:
            return f"{kind} record whose '{name}' is not a string: {show(rec[name])}"
    if kind == RESULT:
        if rec["status"] not in RESULT_STATES:
            return f"result record with an unknown status {show(rec['status'])}"
        code = rec.get("code")
        if code is not None and type(code) is not int:
            return f"result record whose 'code' is not an integer: {show(code)}"
        message = rec.get("message")
        if message is not None and type(message) is not str:
            return f"result record whose 'message' is not a string: {show(message)}"
    elif kind == REFRESH:
        if rec["observed"] not in OBSERVED:
            return (
                f"refresh record with an unknown observation {show(rec['observed'])} "
                "(present or absent)"
            )
    elif kind == RUN:
        problem = _targets_problem(rec)
        if problem is not None:
            return problem
    return None


def _targets_problem(rec: dict[str, Any]) -> str | None:
    targets = rec.get("targets")
    if targets is not None and not (
        isinstance(targets, dict) and all(type(v) is str for v in targets.values())
    ):
        return f"run record whose 'targets' is not an object of strings: {show(targets)}"
    return None


# -- format 2 ------------------------------------------------------------------------


def _is_fp(value: Any) -> bool:
    return type(value) is str and len(value) == FP_CHARS


def _text(rec: dict[str, Any], kind: str, *names: str) -> str | None:
    for name in names:
        if name not in rec:
            return f"{kind} record without '{name}'"
        if type(rec[name]) is not str:
            return f"{kind} record whose '{name}' is not a string: {show(rec[name])}"
    return None


def _count(rec: dict[str, Any], kind: str, name: str) -> str | None:
    value = rec.get(name)
    if type(value) is not int or value < 0:
        return f"{kind} record whose '{name}' is not a number: {show(value)}"
    return None


_STR = {str}
_FP_LEN = {FP_CHARS}


def _fps(rec: dict[str, Any], kind: str) -> str | None:
    fps = rec.get("fps")
    if type(fps) is not list or not fps:
        return f"{kind} record without a list of fingerprints 'fps'"
    # whole-list checks in C: a ledger holds millions of fingerprints
    if set(map(type, fps)) == _STR and set(map(len, fps)) == _FP_LEN:
        return None
    for fp in fps:
        if not _is_fp(fp):
            return f"{kind} record with a fingerprint that is not {FP_CHARS} characters: {show(fp)}"
    return None  # pragma: no cover - the sets above said otherwise


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


_NONE = type(None)
_EVIDENCE_OR_NONE = EVIDENCE | {None}


_LETTERS = str.maketrans("", "", "adfx.")


def problem_v2(rec: Any) -> str | None:
    """What is wrong with a parsed format-2 record, or None when it holds what the fold
    reads with the right JSON types. Its id and number are checked by the reader.

    The two kinds a ledger is made of (intents, results of one state) are checked on a
    fast path first: millions of items go through here."""
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
            elif kind == RESULT:
                s = rec.get("s")
                if (
                    type(rec.get("of")) is int
                    and type(rec.get("at")) is int
                    and rec["of"] >= 0
                    and rec["at"] >= 0
                    and type(s) is str
                    and s
                    and not s.translate(_LETTERS)
                    and type(rec.get("code", 0)) is int
                    and type(rec.get("message", "")) is str
                    # (the one change to the reference: a list of evidence raised
                    # TypeError here, unhashable; it takes the full check instead)
                    and type(rec.get("evidence", "removed")) is str
                    and rec.get("evidence", "removed") in EVIDENCE
                ):
                    for name, kind_of in (("request_id", str), ("note", str)):
                        value = rec.get(name)
                        if value is None or type(value) is kind_of:
                            continue
                        if type(value) is list and len(value) == len(s):
                            if set(map(type, value)) <= {kind_of, _NONE}:
                                continue
                        break
                    else:
                        return None
    return _problem_v2(rec)


def _problem_v2(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return "not a record (a JSON object was expected)"
    if "type" not in rec:
        return "record without 'type'"
    kind = rec["type"]
    if not isinstance(kind, str) or kind not in RECORD_TYPES:
        if kind == HEADER:
            return "header record out of place (only header.jsonl holds one)"
        return f"unknown record type {show(kind)}"
    problem = _count(rec, kind, "n") or _text(rec, kind, "ts")
    if problem is not None:
        return problem
    if kind == RUN:
        after = rec.get("after")
        if not isinstance(after, list) or not all(type(a) is str for a in after) or not after:
            return "run record without the list of records it continues from ('after')"
        return _text(rec, kind, "run") or _targets_problem(rec)
    if kind == PART:
        problem = _text(rec, kind, "run", "after") or _count(rec, kind, "part")
        if problem is None and rec["part"] < 2:
            return f"part record whose 'part' is not 2 or more: {rec['part']}"
        return problem
    if kind == INTENT:
        problem = _text(rec, kind, "target") or _fps(rec, kind)
        if problem is not None:
            return problem
        sizes = rec.get("sizes")
        if sizes is not None and not (
            isinstance(sizes, list)
            and all(type(x) is int and x > 0 for x in sizes)
            and sum(sizes) == len(rec["fps"])
        ):
            return f"intent record whose 'sizes' do not add up to its items: {show(sizes)}"
        return None
    if kind == RESULT:
        problem = _count(rec, kind, "of") or _count(rec, kind, "at")
        problem = problem or _letters(rec, kind, "adfx.", None)
        if problem is not None:
            return problem
        size = len(rec["s"])
        for name, kind_of in RESULT_COLUMNS.items():
            value = rec.get(name)
            if value is None:
                continue
            if type(value) is list:
                if len(value) != size:
                    return f"result record whose '{name}' has {len(value)} values for {size} items"
                if set(map(type, value)) <= {kind_of, _NONE}:  # in C, for every item at once
                    if name != "evidence" or set(value) <= _EVIDENCE_OR_NONE:
                        continue
                values = value
            else:
                values = [value]
            for v in values:
                if v is not None and type(v) is not kind_of:
                    return f"result record whose '{name}' is not a {kind_of.__name__}: {show(v)}"
                if name == "evidence" and v is not None and v not in EVIDENCE:
                    return f"result record with an unknown evidence {show(v)}"
        return None
    if kind == WITHDRAW:
        problem = _count(rec, kind, "of")
        pos = rec.get("pos")
        if problem is None and not (
            isinstance(pos, list) and pos and all(type(p) is int and p >= 0 for p in pos)
        ):
            return "withdraw record without a list of positions 'pos'"
        return problem
    if kind == REFRESH:
        problem = _text(rec, kind, "target") or _fps(rec, kind)
        return problem or _letters(rec, kind, "pau", len(rec["fps"]))
    if kind == RESOLUTION:
        problem = _text(rec, kind, "target", "fp", "as", "reason", "who")
        if problem is None and not _is_fp(rec["fp"]):
            return f"resolution record whose 'fp' is not {FP_CHARS} characters"
        if problem is None and rec["as"] not in RESOLUTIONS:
            return f"resolution record with an unknown decision {show(rec['as'])}"
        return problem
    if kind == UNLOCK:
        return _text(rec, kind, "lock", "who")
    return None  # END: counts only

"""Malformed format-1 records (files written as 0.1.x did) and headers: the fold skips a
broken run-file record with a warning
naming file:line, verify reports it as a break, history skips it, and no command ends
in an internal error (exit 3). A broken header is a ReconcilerError (exit 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ReconcilerError
from reconciler.ledger.chain import legacy_id as line_hash
from reconciler.ledger.store import HEADER_FILE, read_ledger, run_files
from reconciler.ledger.verify import check_chain, history, verify_ledger
from reconciler.states import DONE, DRIFTED, FAILED, UNKNOWN
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj
from tests.ledger.legacy import legacy_write_run

FP = hashlib.sha256(b"item-1").hexdigest()
OTHER = hashlib.sha256(b"item-2").hexdigest()


def last_hash(path: Path) -> str:
    return line_hash(path.read_bytes().split(b"\n")[-2])


def append(path: Path, record: dict[str, Any] | bytes) -> int:
    """Append one line; a dict gets `prev` (the hash of the line before) unless it has
    one, and is written as the writer writes. Returns the new line's number."""
    if isinstance(record, dict):
        record = {"prev": last_hash(path), **record}
        data = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    else:
        data = record
    with path.open("ab") as handle:
        handle.write(data + b"\n")
    return path.read_bytes().count(b"\n")


def base(proj: Proj) -> Path:
    """FP done and OTHER failed in run r1: run, 2 x (intent, result), end = 6 lines."""
    proj.create_legacy_ledger()
    legacy_write_run(proj.ledger_dir, [(FP, "seg", "done"), (OTHER, "seg", "failed")], "r1")
    (path,) = run_files(proj.ledger_dir)
    return path


COMMON = {"run": "r1", "ts": "2026-01-01T00:00:00.000000Z"}
INTENT = {"type": "intent", "fp": FP, "target": "seg", "request": "d" * 64, **COMMON}
RESULT = {"type": "result", "fp": FP, "target": "seg", "status": "failed", "code": 503, **COMMON}
REFRESH = {"type": "refresh", "fp": FP, "target": "seg", "observed": "present", **COMMON}


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != name}


# (id, the line appended after a valid run, what verify and the fold say about it)
MALFORMED: list[tuple[str, dict[str, Any] | bytes, str]] = [
    ("result without status", without(RESULT, "status"), "result record without 'status'"),
    ("intent without target", without(INTENT, "target"), "intent record without 'target'"),
    ("intent without fp", without(INTENT, "fp"), "intent record without 'fp'"),
    ("intent without ts", without(INTENT, "ts"), "intent record without 'ts'"),
    ("result without run", without(RESULT, "run"), "result record without 'run'"),
    (
        "refresh without observed",
        without(REFRESH, "observed"),
        "refresh record without 'observed'",
    ),
    (
        "refresh with an unknown observation",
        {**REFRESH, "observed": "maybe"},
        "refresh record with an unknown observation 'maybe' (present or absent)",
    ),
    ("a JSON array", b"[1]", "not a record (a JSON object was expected)"),
    ("a JSON string", b'"intent"', "not a record (a JSON object was expected)"),
    ("JSON null", b"null", "not a record (a JSON object was expected)"),
    ("a JSON number", b"7", "not a record (a JSON object was expected)"),
    ("no type", without(INTENT, "type"), "record without 'type'"),
    ("type a list", {"type": [1]}, "unknown record type [1]"),
    ("type null", {**INTENT, "type": None}, "unknown record type None"),
    ("type an object", {**INTENT, "type": {"a": 1}}, "unknown record type {'a': 1}"),
    (
        "result with an unknown status",
        {**RESULT, "status": "bogus"},
        "result record with an unknown status 'bogus'",
    ),
    (
        "result with a pending status",
        {**RESULT, "status": "pending"},
        "result record with an unknown status 'pending'",
    ),
    (
        "status a list",
        {**RESULT, "status": ["done"]},
        "result record whose 'status' is not a string: ['done']",
    ),
    ("fp a number", {**INTENT, "fp": 5}, "intent record whose 'fp' is not a string: 5"),
    ("fp a list", {**RESULT, "fp": [FP]}, "result record whose 'fp' is not a string: ['"),
    (
        "target an object",
        {**INTENT, "target": {"a": 1}},
        "intent record whose 'target' is not a string: {'a': 1}",
    ),
    (
        "target a number",
        {**REFRESH, "target": 5},
        "refresh record whose 'target' is not a string: 5",
    ),
    ("run null", {**INTENT, "run": None}, "intent record whose 'run' is not a string: None"),
    ("ts a number", {**RESULT, "ts": 17}, "result record whose 'ts' is not a string: 17"),
    (
        "code a string",
        {**RESULT, "code": "503"},
        "result record whose 'code' is not an integer: '503'",
    ),
    ("code true", {**RESULT, "code": True}, "result record whose 'code' is not an integer: True"),
    (
        "message a number",
        {**RESULT, "message": 5},
        "result record whose 'message' is not a string: 5",
    ),
    (
        "header in a run file",
        {"type": "header", "lineage": "x"},
        "header record out of place (only header.jsonl holds one)",
    ),
]


@pytest.mark.parametrize(("record", "problem"), [pytest.param(r, p, id=i) for i, r, p in MALFORMED])
def test_malformed_record_is_skipped_by_the_fold_and_a_break_for_verify(
    proj: Proj, record: dict[str, Any] | bytes, problem: str
) -> None:
    path = base(proj)
    number = append(path, record)
    assert number == 7
    # a valid record after it still folds: the fold skips only the broken line
    append(path, {**INTENT, "fp": OTHER})
    ledger = read_ledger(proj.ledger_dir)
    assert len(ledger.warnings) == 1
    warning = ledger.warnings[0]
    assert warning.startswith(f"{path.name}:7: {problem}") and warning.endswith("; ignored")
    assert ledger.state_of(FP) == DONE  # untouched by the broken record
    assert ledger.state_of(OTHER) == UNKNOWN
    assert ledger.items[FP].run == "r1" and ledger.items[FP].code == 200

    report = verify_ledger(proj.ledger_dir)
    assert len(report.breaks) == 1
    assert report.breaks[0].startswith(f"{path.name}:7: {problem}")
    # verify and the fold describe it the same way
    assert warning == report.breaks[0] + "; ignored"

    recs = list(history(proj.ledger_dir, FP))
    assert [r["type"] for r in recs] == ["intent", "result"]
    assert all(r["commit"] == "c0ffee1" for r in recs)


@pytest.mark.parametrize(("record", "problem"), [pytest.param(r, p, id=i) for i, r, p in MALFORMED])
def test_malformed_record_never_ends_a_command_in_an_internal_error(
    proj: Proj, record: dict[str, Any] | bytes, problem: str
) -> None:
    proj.add_all_vendors()
    path = base(proj)
    append(path, record)
    plan = run_cli("plan")  # refuses, naming the file and line
    assert plan.code == 1, plan.output
    assert f"the ledger does not verify: {path.name}:7: {problem}" in plan.err
    recovery = run_cli("plan", "--ignore-ledger-errors")
    assert recovery.code == 0, recovery.output
    assert f"{path.name}:7: {problem}" in recovery.err
    assert "--ignore-ledger-errors: the ledger does not verify" in recovery.err
    verify = run_cli("ledger", "verify")
    assert verify.code == 1, verify.output
    assert f"ledger/{path.name}:7: {problem}" in verify.err
    show = run_cli("ledger", "show", FP[:12])
    assert show.code == 0, show.output
    assert "state:    done" in show.out
    assert run_cli("ledger", "list").code == 0
    with pytest.raises(ReconcilerError, match=f"{path.name}:7: "):
        check_chain(proj.ledger_dir)


def test_a_broken_record_leaves_the_items_state_whole(proj: Proj) -> None:
    """A refresh `present` whose run id is broken must not mark the item drifted, and a
    result with an unknown status must not replace the item's state."""
    path = base(proj)
    append(path, {**REFRESH, "run": ["r1"]})
    append(path, {**RESULT, "fp": OTHER, "status": "gone"})
    append(path, {**REFRESH, "fp": OTHER, "ts": None})
    ledger = read_ledger(proj.ledger_dir)
    assert (ledger.state_of(FP), ledger.state_of(OTHER)) == (DONE, FAILED)
    assert [w.split(":")[1] for w in ledger.warnings] == ["7", "8", "9"]
    append(path, REFRESH)  # a valid one still applies
    assert read_ledger(proj.ledger_dir).state_of(FP) == DRIFTED


def test_an_empty_target_is_a_string_like_any_other(proj: Proj) -> None:
    """The fold keeps one copy of each target and run id; the empty string is one."""
    path = base(proj)
    append(path, {**INTENT, "target": ""})
    append(path, {**INTENT, "fp": OTHER, "target": ""})
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.warnings == []
    assert (ledger.items[FP].target, ledger.items[OTHER].target) == ("", "")
    assert ledger.state_of(OTHER) == UNKNOWN
    assert verify_ledger(proj.ledger_dir).ok


def test_a_broken_run_record_is_skipped_and_its_end_finds_no_run(proj: Proj) -> None:
    proj.create_legacy_ledger()
    writer = legacy_write_run(proj.ledger_dir, [(FP, "seg", "done")], "r1", close=False)
    path = writer.path
    append(path, {"type": "run", "run": "r2", "ts": "t", "targets": ["seg"]})
    append(path, {"type": "run", "run": "r3", "ts": "t", "targets": {"seg": 5}})
    append(path, {"type": "end", "run": "r1"})
    append(path, {"type": "end", "run": "r1", "ts": "t-end"})
    ledger = read_ledger(proj.ledger_dir)
    assert set(ledger.runs) == {"r1"}
    assert ledger.runs["r1"]["ended"] == "t-end"
    assert ledger.target_accounts == {}
    assert ledger.warnings == [
        f"{path.name}:4: run record whose 'targets' is not an object of strings: ['seg']; ignored",
        f"{path.name}:5: run record whose 'targets' is not an object of strings: {{'seg': 5}}"
        "; ignored",
        f"{path.name}:6: end record without 'ts'; ignored",
    ]
    # one break per file: the first
    assert verify_ledger(proj.ledger_dir).breaks == [
        f"{path.name}:4: run record whose 'targets' is not an object of strings: ['seg']"
    ]


def test_a_run_records_accounts_are_kept(proj: Proj) -> None:
    proj.create_legacy_ledger()
    writer = legacy_write_run(proj.ledger_dir, [], "r1", close=False)
    append(writer.path, {"type": "run", "run": "r2", "ts": "t", "targets": {"seg": "acct1"}})
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.warnings == []
    assert ledger.target_accounts == {"seg": "acct1"}


def test_history_skips_broken_lines_about_the_item(proj: Proj) -> None:
    path = base(proj)
    append(path, without(RESULT, "status"))
    append(path, b'{"fp":"' + FP.encode() + b'", broken')
    append(path, {**RESULT, "status": "done", "code": 200})
    recs = list(history(proj.ledger_dir, FP))
    assert [(r["type"], r.get("status")) for r in recs] == [
        ("intent", None),
        ("result", "done"),
        ("result", "done"),
    ]
    assert [r["who"] for r in recs] == ["tester@ci"] * 3


# -- the header -----------------------------------------------------------------------


def header_of(proj: Proj) -> dict[str, Any]:
    return json.loads((proj.ledger_dir / HEADER_FILE).read_bytes())


def write_header(proj: Proj, data: Any) -> None:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    (proj.ledger_dir / HEADER_FILE).write_text(text + "\n")


def salted(proj: Proj) -> dict[str, Any]:
    proj.create_ledger()
    rec = header_of(proj)
    assert rec["scheme"] == "sha256-salted"
    return rec


HEADERS: list[tuple[str, Any, str]] = [
    ("a JSON list", [1], "not a reconciler ledger header (a JSON object was expected)"),
    ("a JSON string", "header", "not a reconciler ledger header (a JSON object was expected)"),
    ("no type", {"type": None}, "not a reconciler ledger header of format 1 or 2"),
    ("format true", {"format_version": True}, "not a reconciler ledger header of format 1 or 2"),
    ("format 3", {"format_version": 3}, "not a reconciler ledger header of format 1 or 2"),
    ("no lineage", {"lineage": None}, "the ledger header has no 'lineage'"),
    ("no scheme", {"scheme": None}, "the ledger header has no 'scheme'"),
    ("no key_id", {"key_id": None}, "the ledger header has no 'key_id'"),
    ("no created", {"created": None}, "the ledger header has no 'created'"),
    ("lineage a number", {"lineage": 5}, "the ledger header's 'lineage' is not a string: 5"),
    ("key_id a list", {"key_id": ["x"]}, "the ledger header's 'key_id' is not a string: ['x']"),
    ("unknown scheme", {"scheme": "md5"}, "unknown fingerprint scheme 'md5'"),
    ("salted, no salt", {"salt": None}, "the ledger header has no 'salt'"),
    ("salt not hex", {"salt": "zz"}, "the ledger header's 'salt' is not hex"),
    ("salt a number", {"salt": 5}, "the ledger header's 'salt' is not a string: 5"),
]


@pytest.mark.parametrize(("change", "problem"), [pytest.param(c, p, id=i) for i, c, p in HEADERS])
def test_broken_header_is_a_reconciler_error_everywhere(
    proj: Proj, change: Any, problem: str
) -> None:
    proj.add_all_vendors()
    rec = salted(proj)
    if isinstance(change, dict):
        rec.update(change)
        rec = {k: v for k, v in rec.items() if v is not None}
    else:
        rec = change
    write_header(proj, rec)
    with pytest.raises(ReconcilerError) as caught:
        read_ledger(proj.ledger_dir)
    assert f"{HEADER_FILE}: " in str(caught.value) and problem in str(caught.value)
    report = verify_ledger(proj.ledger_dir)
    assert len(report.breaks) == 1
    assert report.breaks[0].startswith(f"{HEADER_FILE}:1: ") and problem in report.breaks[0]
    with pytest.raises(ReconcilerError, match="the ledger does not verify: header.jsonl:1: "):
        check_chain(proj.ledger_dir)
    for args in (("plan",), ("ledger", "verify"), ("ledger", "list")):
        result = run_cli(*args)
        assert result.code == 1, (args, result.output)
        assert problem in result.err


def test_a_keyed_header_needs_no_salt(keyed_proj: Proj) -> None:
    keyed_proj.create_ledger()
    rec = header_of(keyed_proj)
    assert rec["scheme"] == "hmac-sha256" and "salt" not in rec
    assert read_ledger(keyed_proj.ledger_dir).header is not None


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"{", b"\xff\xfe\n", b"[" * 100_000 + b"]" * 100_000 + b"\n"],
    ids=["empty", "blank line", "cut short", "not UTF-8", "too deep"],
)
def test_unreadable_header_is_a_reconciler_error(proj: Proj, data: bytes) -> None:
    proj.create_ledger()
    (proj.ledger_dir / HEADER_FILE).write_bytes(data)
    with pytest.raises(ReconcilerError, match="the ledger header is not valid JSON"):
        read_ledger(proj.ledger_dir)
    report = verify_ledger(proj.ledger_dir)
    assert not report.ok
    assert report.breaks[0].startswith(HEADER_FILE)
    assert run_cli("plan").code == 1


def test_a_header_that_is_a_folder_is_a_reconciler_error(proj: Proj) -> None:
    proj.ledger_dir.mkdir(parents=True)
    (proj.ledger_dir / HEADER_FILE).mkdir()
    with pytest.raises(ReconcilerError, match="the ledger header cannot be read"):
        read_ledger(proj.ledger_dir)
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks == [f"{HEADER_FILE}: cannot be read (Is a directory)"]
    assert run_cli("ledger", "verify").code == 1


# -- nothing raises -------------------------------------------------------------------

GARBAGE = [
    b"[1]",
    b"{}",
    b'{"type":[1]}',
    b'{"type":"result"}',
    b'{"type":"run","run":{"a":1},"ts":"t"}',
    b'{"type":"end","run":[1],"ts":"t"}',
    b'{"type":"intent","prev":[1]}',
    b'{"prev":5}',
    b"not json",
    b"[" * 100_000,
    b"\xff",
    b'"\\ud800"',
]


@pytest.mark.parametrize("garbage", GARBAGE)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_garbage_anywhere_in_a_run_file_never_raises(
    proj: Proj, garbage: bytes, where: str
) -> None:
    path = base(proj)
    lines = path.read_bytes().split(b"\n")[:-1]
    at = {"first": 0, "middle": 3, "last": len(lines)}[where]
    lines.insert(at, garbage)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.warnings and ledger.warnings[0].startswith(f"{path.name}:{at + 1}: ")
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks and report.breaks[0].startswith(f"{path.name}:{at + 1}: ")
    assert len(list(history(proj.ledger_dir, FP))) == 2
    with pytest.raises(ReconcilerError):
        check_chain(proj.ledger_dir)

"""`reconcile ledger list|show|find|verify` on a small ledger: the table, --limit,
--manifest checks, near misses, --type, and `--format json` documents checked against
schemas/ledger.schema.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.desired import Item
from reconciler.schemas import load_schema
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, make_proj, write_run

JANE = "jane@old-domain.example"
MEM_ID = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"
ORPHAN = "0f" * 32


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    """Every vendor declared. Run r1 (commit c0ffee1): jane's email done, the phone
    failed, braze's first profile accepted, an orphan done. Run r2 (commit beef002): the
    phone done, memory's phone type unknown."""
    proj = make_proj(tmp_path, monkeypatch)
    proj.add_all_vendors()
    proj.create_ledger()
    seg, braze, mem = proj.items("seg"), proj.items("braze"), proj.items("mem")
    write_run(
        proj.ledger_dir,
        [
            (proj.fp(seg[0]), "seg", "done"),
            (proj.fp(seg[1]), "seg", "failed"),
            (proj.fp(braze[0]), "braze", "accepted"),
            (ORPHAN, "seg", "done"),
        ],
        run_id="r1",
        commit="c0ffee1",
    )
    write_run(
        proj.ledger_dir,
        [(proj.fp(seg[1]), "seg", "done"), (proj.fp(mem[0]), "mem", "unknown")],
        run_id="r2",
        commit="beef002",
    )
    return proj


def item_of(proj: Proj, target: str, n: int) -> Item:
    return proj.items(target)[n]


def rows(out: str) -> list[list[str]]:
    """The table's rows, without its header."""
    lines = out.splitlines()
    assert lines[0].split() == ["FINGERPRINT", "STATE", "TARGET", "UPDATED", "MANIFEST", "ITEM"]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


def test_list_every_item_with_its_state(small: Proj) -> None:
    result = run_cli("ledger", "list")
    assert result.code == 0
    table = rows(result.out)
    assert len(table) == 13 + 1  # declared + the orphan
    assert result.err.strip() == "14 item(s)."
    by_fp = {row[0]: row for row in table}
    jane = by_fp[small.fp(item_of(small, "seg", 0))[:16]]
    assert jane[1] == "done" and jane[2] == "seg" and jane[4] == "seg-emails"
    assert jane[5] == "email j***@old-domain.example on user_id u_**01"
    assert by_fp[small.fp(item_of(small, "seg", 1))[:16]][1] == "done"
    assert by_fp[small.fp(item_of(small, "braze", 0))[:16]][1] == "accepted"
    assert by_fp[small.fp(item_of(small, "mem", 0))[:16]][1] == "unknown"
    pending = by_fp[small.fp(item_of(small, "ins", 0))[:16]]
    assert pending[1] == "pending" and pending[3] == "-"
    orphan = by_fp[ORPHAN[:16]]
    assert orphan[1:3] == ["done", "seg"] and orphan[-1] == "(orphaned: no manifest)"


def test_list_filters(small: Proj) -> None:
    done = run_cli("ledger", "list", "--state", "done")
    assert {row[1] for row in rows(done.out)} == {"done"}
    assert done.err.strip() == "3 item(s)."
    two = run_cli("ledger", "list", "--state", "done", "--state", "unknown")
    assert two.err.strip() == "4 item(s)."
    braze = run_cli("ledger", "list", "--target", "braze")
    assert {row[2] for row in rows(braze.out)} == {"braze"}
    assert braze.err.strip() == "3 item(s)."
    manifest = run_cli("ledger", "list", "--manifest", "mem-phones")
    assert {row[4] for row in rows(manifest.out)} == {"mem-phones"}
    assert manifest.err.strip() == "2 item(s)."
    combined = run_cli("ledger", "list", "--target", "seg", "--state", "pending")
    assert combined.err.strip() == "3 item(s)."
    nothing = run_cli("ledger", "list", "--target", "mem", "--state", "rejected")
    assert nothing.out == "" and nothing.err.strip() == "0 item(s)."
    bad = run_cli("ledger", "list", "--target", "nope")
    assert bad.code == 1 and "no such target" in bad.err
    bad_state = run_cli("ledger", "list", "--state", "gone")
    assert bad_state.code == 1


def test_list_without_a_ledger_shows_everything_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = make_proj(tmp_path, monkeypatch)
    proj.add_all_vendors()
    result = run_cli("ledger", "list")
    assert result.code == 0
    assert {row[1] for row in rows(result.out)} == {"pending"}
    assert result.err.strip() == "13 item(s)."
    assert not proj.ledger_dir.exists()


def test_show_the_history_of_one_item(small: Proj) -> None:
    fp = small.fp(item_of(small, "seg", 1))
    result = run_cli("ledger", "show", fp[:12])
    assert result.code == 0, result.output
    lines = result.out.splitlines()
    assert lines[0] == f"Item {fp[:32]}"
    assert lines[1] == "  what:     phone +1555*****00 on user_id u_**01"
    assert re.fullmatch(r"  declared: seg-emails, specs/\S+\.yaml:\d+", lines[2])
    assert lines[3:6] == ["  target:   seg", "  state:    done", "  evidence: removed"]
    assert lines[6] == "History (4 record(s), oldest first):"
    events = lines[7:11]
    assert "sent (request dddddddddddd)  [run r1, commit c0ffee1, by tester@ci]" in events[0]
    assert (
        "answer: failed, HTTP 503, vendor said: Service Unavailable; request id req-" in events[1]
    )
    assert "[run r2, commit beef002" in events[2]
    assert "answer: done (removed), HTTP 200" in events[3]
    assert lines[11].startswith("Now: REMOVED: the vendor confirmed the deletion (")
    assert JANE not in result.out and "+15555550100" not in result.out


def test_show_an_orphaned_item_says_so(small: Proj) -> None:
    result = run_cli("ledger", "show", ORPHAN[:10])
    assert result.code == 0
    assert "  what:     (orphaned: no manifest)" in result.out.splitlines()
    assert "declared:" not in result.out


def test_show_refuses_unknown_and_ambiguous_prefixes(small: Proj) -> None:
    missing = run_cli("ledger", "show", "zzzz")
    assert missing.code == 1 and "no item with fingerprint zzzz" in missing.err
    # the empty prefix matches every recorded item (4 declared, 1 orphan)
    ambiguous = run_cli("ledger", "show", "")
    assert ambiguous.code == 1 and "matches 5 items" in ambiguous.err


def test_find_by_value(small: Proj) -> None:
    result = run_cli("ledger", "find", "--target", "seg", "--value", JANE)
    assert result.code == 0, result.output
    fp = small.fp(item_of(small, "seg", 0))
    lines = result.out.splitlines()
    assert lines[0] == "email j***@old-domain.example on user_id u_**01"
    assert lines[1] == f"  fingerprint: {fp}"
    assert lines[2].startswith("  REMOVED: the vendor confirmed the deletion (")
    assert "run r1, commit c0ffee1)" in lines[2]
    assert re.fullmatch(
        r"  \S+ result done \(removed\), HTTP 200 \(run r1, commit c0ffee1\)", lines[3]
    )


def test_find_reports_the_vendor_answer_of_each_attempt(small: Proj) -> None:
    result = run_cli("ledger", "find", "--target", "seg", "--value", "+15555550100")
    assert result.code == 0
    assert "result failed, HTTP 503, vendor said: Service Unavailable (run r1, commit c0ffee1)" in (
        result.out
    )
    assert "result done (removed), HTTP 200 (run r2, commit beef002)" in result.out


def test_find_by_profile(small: Proj) -> None:
    seg = run_cli(
        "ledger", "find", "--target", "seg", "--profile", "user_id=u_1001", "--type", "email",
        "--value", JANE,
    )  # fmt: skip
    assert seg.code == 0
    # described once, though found both from the arguments and from the manifests
    assert seg.out.count("fingerprint:") == 1
    braze = run_cli("ledger", "find", "--target", "braze", "--profile", "external_id=loadtest-0001")
    assert braze.code == 0
    assert "ACCEPTED, NOT CONFIRMED: the vendor queued or acknowledged it" in braze.out
    assert "result accepted, HTTP 202" in braze.out
    mem = run_cli(
        "ledger", "find", "--target", "mem", "--profile", f"profile_id={MEM_ID}",
        "--type", "phone",
    )  # fmt: skip
    assert mem.code == 0
    assert "UNKNOWN: sent, no answer recorded" in mem.out
    assert MEM_ID not in mem.out


def test_find_something_never_sent(small: Proj) -> None:
    result = run_cli("ledger", "find", "--target", "ins", "--value", "+6598765432")
    assert result.code == 1
    assert "identifier phone_number +6598****32" in result.out
    assert "NOT FOUND in the ledger: never sent" in result.out
    undeclared = run_cli("ledger", "find", "--target", "seg", "--value", "nobody@example.com")
    assert undeclared.code == 1
    assert "No declared item holds that value at this target (seg)." in undeclared.out


def test_find_refuses_bad_arguments(small: Proj) -> None:
    nothing = run_cli("ledger", "find", "--target", "seg")
    assert nothing.code == 1 and "give --value, or --profile" in nothing.err
    bad_pair = run_cli("ledger", "find", "--target", "seg", "--profile", "u_1001")
    assert bad_pair.code == 1 and "expected KEY=VALUE" in bad_pair.err
    bad_item = run_cli(
        "ledger", "find", "--target", "seg", "--profile", "email=a@b.example", "--type", "email",
        "--value", "x@y.example",
    )  # fmt: skip
    assert bad_item.code == 1 and "cannot describe that item" in bad_item.err
    bad_target = run_cli("ledger", "find", "--target", "nope", "--value", JANE)
    assert bad_target.code == 1 and "no such target" in bad_target.err


def test_verify_counts(small: Proj) -> None:
    result = run_cli("ledger", "verify")
    assert result.code == 0
    # header + r1 (run, 4 intents, 4 results, end) + r2 (run, 2 intents, 1 result, end)
    assert "The ledger verifies: 16 record(s) in 2 run file(s)." in result.out


def test_find_tells_removed_from_already_absent_accepted_and_never_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = make_proj(tmp_path, monkeypatch)
    proj.add_all_vendors()
    proj.create_ledger()
    seg, braze = proj.items("seg"), proj.items("braze")
    write_run(
        proj.ledger_dir,
        [
            (proj.fp(seg[0]), "seg", "done"),
            (proj.fp(seg[1]), "seg", "done-absent"),
            (proj.fp(braze[0]), "braze", "accepted"),
        ],
        run_id="r1",
    )

    def verdict(*args: str) -> str:
        result = run_cli("ledger", "find", *args)
        return result.out.splitlines()[2]

    assert verdict("--target", "seg", "--value", JANE).startswith("  REMOVED: the vendor confirmed")
    absent = verdict("--target", "seg", "--value", "+15555550100")
    assert absent.startswith("  ALREADY ABSENT: the vendor's answer proves it was not there")
    accepted = verdict("--target", "braze", "--profile", "external_id=loadtest-0001")
    assert accepted.startswith("  ACCEPTED, NOT CONFIRMED")
    never = run_cli("ledger", "find", "--target", "ins", "--value", "+6598765432")
    assert never.code == 1 and "NOT FOUND in the ledger: never sent" in never.out


def valid(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator(load_schema("ledger")).validate(doc)
    assert doc["format_version"] == "1"
    return doc


def test_list_has_a_header_and_aligned_columns(small: Proj) -> None:
    lines = run_cli("ledger", "list").out.splitlines()
    assert lines[0].startswith("FINGERPRINT       STATE     TARGET  UPDATED")
    # every column starts where its header does
    for name in ("STATE", "TARGET", "UPDATED", "MANIFEST", "ITEM"):
        at = lines[0].index(name)
        assert all(line[at - 2 : at] == "  " and line[at] != " " for line in lines[1:]), name


def test_list_limit_cuts_and_says_how_many_match(small: Proj) -> None:
    result = run_cli("ledger", "list", "--limit", "3")
    assert result.code == 0
    assert len(result.out.splitlines()) == 1 + 3
    assert result.err.strip() == "3 of 14 item(s) shown (--limit 3)."
    doc = valid(run_cli("ledger", "list", "--limit", "2", "--format", "json").out)
    assert doc["total"] == 14 and len(doc["items"]) == 2


def test_list_refuses_an_unknown_manifest_as_an_unknown_target(small: Proj) -> None:
    result = run_cli("ledger", "list", "--manifest", "seg-emailz")
    assert result.code == 1
    assert result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("Error: --manifest seg-emailz: no such manifest (manifests: ")
    assert "seg-emails" in line
    target = run_cli("ledger", "list", "--target", "segg")
    assert target.code == 1 and "--target segg: no such target" in target.err


def test_list_json_validates_and_masks(small: Proj) -> None:
    doc = valid(run_cli("ledger", "list", "--format", "json").out)
    assert doc["kind"] == "ledger-list" and doc["values_shown"] is False
    by_fp = {i["fingerprint"][:16]: i for i in doc["items"]}
    jane = by_fp[small.fp(item_of(small, "seg", 0))[:16]]
    assert jane["state"] == "done" and jane["manifests"] == ["seg-emails"]
    assert jane["description"] == "email j***@old-domain.example on user_id u_**01"
    orphan = by_fp[ORPHAN[:16]]
    assert orphan["orphaned"] is True and orphan["description"] is None
    assert JANE not in json.dumps(doc)
    shown = valid(run_cli("ledger", "list", "--format", "json", "--show-values").out)
    assert JANE in json.dumps(shown) and shown["values_shown"] is True


def test_show_json_holds_the_raw_records(small: Proj) -> None:
    fp = small.fp(item_of(small, "seg", 1))
    doc = valid(run_cli("ledger", "show", fp[:10], "--format", "json").out)
    item = doc["item"]
    assert doc["kind"] == "ledger-item" and item["fingerprint"] == fp[:32]
    assert [r["type"] for r in item["records"]] == ["intent", "result", "intent", "result"]
    assert item["records"][1]["code"] == 503 and item["records"][1]["status"] == "failed"
    assert item["verdict"].startswith("REMOVED: the vendor confirmed the deletion")
    assert item["description"] == "phone +1555*****00 on user_id u_**01"
    assert "+15555550100" not in json.dumps(doc)


def test_find_matches_on_type_and_explains_a_near_miss(small: Proj) -> None:
    typed = run_cli("ledger", "find", "--target", "seg", "--value", JANE, "--type", "email")
    assert typed.code == 0 and "REMOVED" in typed.out
    wrong = run_cli("ledger", "find", "--target", "seg", "--value", JANE, "--type", "phone")
    assert wrong.code == 1
    assert wrong.out.strip() == (
        "No declared item holds that value as phone at this target (seg). An item with "
        "that value and type email exists here (--type email)."
    )
    # the value is declared at another target
    elsewhere = run_cli("ledger", "find", "--target", "seg", "--value", "+6598765432")
    assert elsewhere.code == 1
    assert "Target ins has an item with that value (--target ins)." in elsewhere.out
    # a locator value has its field as type
    by_locator = run_cli(
        "ledger", "find", "--target", "seg", "--value", "u_1001", "--type", "user_id"
    )
    assert by_locator.code == 0 and by_locator.out.count("fingerprint:") == 2


def test_find_json_validates(small: Proj) -> None:
    doc = valid(
        run_cli("ledger", "find", "--target", "seg", "--value", JANE, "--format", "json").out
    )
    assert doc["kind"] == "ledger-find" and len(doc["matches"]) == 1
    assert doc["matches"][0]["state"] == "done"
    miss = run_cli(
        "ledger", "find", "--target", "seg", "--value", JANE, "--type", "phone", "--format", "json"
    )  # fmt: skip
    assert miss.code == 1
    near = valid(miss.out)["near_miss"]
    assert near == {"other_types": ["email"], "other_targets": []}
    never = valid(
        run_cli(
            "ledger", "find", "--target", "ins", "--value", "+6598765432", "--format", "json"
        ).out
    )
    assert never["matches"][0]["state"] is None and never["matches"][0]["records"] == []

"""The format-2 writer: grouped intents and results, withdrawals, rotation, and what it
refuses; read back by the fold exactly as written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.ledger.store import RunWriter, item_key, read_ledger, result_fields, run_files
from reconciler.ledger.verify import item_events, verify_ledger
from reconciler.states import ACCEPTED, DONE, FAILED, UNKNOWN
from tests.kit.ledger import Proj
from tests.ledger.sealed import lines_of

FPS = [hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(300)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def kinds(path: Path) -> list[str]:
    return [json.loads(line)["type"] for line in lines_of(path)]


def done(fp: str, **extra: object) -> dict[str, object]:
    return result_fields(fp, "seg", "done", 200, None, **extra)  # type: ignore[arg-type]


def test_one_intent_record_for_requests_announced_ahead(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {"op": "apply"})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:10]])
    rec = json.loads(lines_of(writer.path)[1])
    assert rec["type"] == "intent" and rec["requests"] == 10 and "sizes" not in rec
    assert rec["fps"] == [item_key(fp) for fp in FPS[:10]]
    # announced = may have been sent: unknown until answered, even before a claim
    assert {read_ledger(proj.ledger_dir).state_of(fp) for fp in FPS[:10]} == {UNKNOWN}
    writer.close()


def test_requests_of_several_items_keep_their_sizes(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("braze", [(FPS[:3], "a" * 64), (FPS[3:4], "b" * 64)])
    writer.intents(FPS[4:6], "braze", "c" * 64)
    first, second = (json.loads(x) for x in lines_of(writer.path)[1:3])
    assert (first["requests"], first["sizes"]) == (2, [3, 1])
    assert (second["requests"], "sizes" in second) == (1, False)
    assert second["digest"] == "c" * 32
    writer.close()


def test_grouped_results_wait_for_64_or_a_second_or_the_next_intent(proj: Proj) -> None:
    proj.create_ledger()
    clock = Clock()
    writer = RunWriter(proj.ledger_dir, "r1", {}, clock=clock)
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:64]])
    writer.claim([FPS[0]])
    writer.results([done(FPS[0])])
    assert kinds(writer.path) == ["run", "intent"]  # waiting
    clock.now = 1.5
    writer.claim([FPS[1]])
    writer.results([done(FPS[1])])  # the oldest waited more than a second
    assert kinds(writer.path) == ["run", "intent", "result"]
    for fp in FPS[2:65]:
        if fp == FPS[64]:
            break
        writer.claim([fp])
        writer.results([done(fp)])
    assert kinds(writer.path)[-1] == "result"  # 62 more: written at 64? not yet
    waiting = sum(1 for k in kinds(writer.path) if k == "result")
    writer.intents_ahead("seg", [([FPS[100]], "d" * 64)])  # the next intent takes them along
    assert kinds(writer.path)[-2:] == ["result", "intent"]
    assert sum(1 for k in kinds(writer.path) if k == "result") == waiting + 1
    writer.close()
    assert {read_ledger(proj.ledger_dir).state_of(fp) for fp in FPS[:64]} == {DONE}


def test_an_answer_to_a_request_not_safe_to_resend_is_durable_at_once(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents([FPS[0]], "braze", "d" * 64)
    writer.results([result_fields(FPS[0], "braze", "accepted", 201, None)])
    assert kinds(writer.path) == ["run", "intent", "result"]
    assert read_ledger(proj.ledger_dir).state_of(FPS[0]) == ACCEPTED
    writer.close()


def test_results_record_every_optional_field_per_item(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:4]])
    writer.results(
        [
            done(FPS[0], request_id="q0", evidence="removed"),
            result_fields(FPS[1], "seg", "done", 404, "eid_not_found", "q1", None, "absent"),
            result_fields(FPS[2], "seg", "failed", 503, "unavailable", "q2", "a note"),
            result_fields(FPS[3], "seg", "rejected", 400, "bad id", "q3"),
        ]
    )
    writer.close()
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    got = {fp: ledger.items[fp] for fp in FPS[:4]}
    assert [(s.state, s.code, s.message, s.evidence) for s in got.values()] == [
        (DONE, 200, None, "removed"),
        (DONE, 404, "eid_not_found", "absent"),
        (FAILED, 503, "unavailable", None),
        ("rejected", 400, "bad id", None),
    ]
    events = [e for e in item_events(proj.ledger_dir) if e["type"] == "result"]
    assert [e.get("request_id") for e in events] == ["q0", "q1", "q2", "q3"]
    assert events[2]["note"] == "a note" and "note" not in events[0]
    (rec,) = [json.loads(x) for x in lines_of(writer.path) if b'"result"' in x]
    assert rec["s"] == "ddfx" and rec["code"] == [200, 404, 503, 400]


def test_identical_answers_share_one_value(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:5]])
    writer.results([done(fp, evidence="removed") for fp in FPS[:5]])
    writer.close()
    (rec,) = [json.loads(x) for x in lines_of(writer.path) if b'"result"' in x]
    assert (rec["s"], rec["code"], rec["evidence"]) == ("ddddd", 200, "removed")
    ledger = read_ledger(proj.ledger_dir)
    # one shared status for the five: the fold's table grows by the keys only
    assert len({id(ledger.items[fp]) for fp in FPS[:5]}) == 1


def test_answers_out_of_order_and_gaps(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:20]])
    writer.results([done(FPS[5]), done(FPS[2]), done(FPS[19])])
    writer.flush()
    writer.close()
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    assert [ledger.state_of(fp) for fp in (FPS[2], FPS[5], FPS[19])] == [DONE] * 3
    results = [json.loads(x) for x in lines_of(writer.path) if b'"result"' in x]
    # 2 and 5 share a record (a short gap is "."), 19 is far: a record of its own
    assert [(r["at"], r["s"]) for r in results] == [(2, "d..d"), (19, "d")]


def test_announced_requests_never_claimed_are_withdrawn(proj: Proj) -> None:
    """A target stopped after 2 of 6 announced requests: the 4 never sent go back to
    what they were (pending here), not `unknown`."""
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r0", {})
    writer.intents([FPS[5]], "seg", "d" * 64)
    writer.results([result_fields(FPS[5], "seg", "failed", 503, None)])
    writer.close()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:6]])
    writer.claim([FPS[0]])
    writer.claim([FPS[1]])
    writer.results([done(FPS[0])])  # FPS[1]: sent, answer lost
    writer.close()
    assert kinds(writer.path)[-2:] == ["withdraw", "end"]
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    assert [ledger.state_of(fp) for fp in FPS[:6]] == [DONE, UNKNOWN, None, None, None, FAILED]
    events = [e["type"] for e in item_events(proj.ledger_dir, FPS[3])]
    assert events == ["intent", "withdraw"]


def test_a_killed_run_leaves_its_announced_items_unknown(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:6]])
    writer.claim([FPS[0]])
    # killed: no close, no withdrawal, the waiting result never written
    writer.results([done(FPS[0])])
    ledger = read_ledger(proj.ledger_dir)
    assert {ledger.state_of(fp) for fp in FPS[:6]} == {UNKNOWN}


def test_every_part_stays_under_the_limit_and_the_chain_runs_through(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {"op": "apply"}, max_file_bytes=4_000)
    for at in range(0, 300, 10):
        window = FPS[at : at + 10]
        writer.intents_ahead("seg", [([fp], "d" * 64) for fp in window])
        writer.results([done(fp, request_id=f"req-{fp[:8]}") for fp in window])
    writer.close()
    files = run_files(proj.ledger_dir)
    assert len(files) > 5
    assert all(p.stat().st_size <= 4_000 for p in files)
    assert files[0].name.endswith("-r1.jsonl") and files[1].name.endswith("-r1.p0002.jsonl")
    assert all(kinds(p)[0] == "part" for p in files[1:])
    numbers = [json.loads(x)["n"] for p in files for x in lines_of(p)]
    assert numbers == list(range(len(numbers)))
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok and ledger.warnings == []
    assert {ledger.state_of(fp) for fp in FPS} == {DONE}
    assert ledger.heads == [writer.head]
    report = verify_ledger(proj.ledger_dir)
    assert report.ok and report.files == len(files)


def test_a_missing_middle_part_is_a_break(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {}, max_file_bytes=3_000)
    for at in range(0, 200, 10):
        writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[at : at + 10]])
    writer.close()
    files = run_files(proj.ledger_dir)
    files[1].unlink()
    report = verify_ledger(proj.ledger_dir)
    assert report.breaks[0] == (
        f"{files[2].name}:1: the run's earlier file (part 2) is missing: it was deleted or renamed"
    )


def test_a_part_file_started_but_empty_is_ignored_with_a_warning(proj: Proj) -> None:
    """What a kill right after creating the next part leaves (its folder entry is made
    durable before anything is written to it)."""
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:3]])
    empty = writer.path.with_name(writer.path.name.replace(".jsonl", ".p0002.jsonl"))
    empty.write_bytes(b"")
    torn = writer.path.with_name(writer.path.name.replace(".jsonl", ".p0003.jsonl"))
    torn.write_bytes(b'{"type":"part","n":2,')
    report = verify_ledger(proj.ledger_dir)
    assert report.ok, report.breaks
    assert any(empty.name in w and "holds no complete record" in w for w in report.warnings)
    assert any(torn.name in w for w in report.warnings)
    # the next run continues from the last complete record, and all verifies
    nxt = RunWriter(proj.ledger_dir, "r2", {})
    nxt.close()
    assert verify_ledger(proj.ledger_dir).ok
    assert read_ledger(proj.ledger_dir).heads == [nxt.head]


def test_the_writer_refuses_what_it_cannot_record(proj: Proj) -> None:
    proj.create_ledger()
    with pytest.raises(ValueError, match="run info may not set"):
        RunWriter(proj.ledger_dir, "r1", {"n": 1})
    writer = RunWriter(proj.ledger_dir, "r1", {})
    with pytest.raises(ValueError, match="not a result state"):
        writer.result(FPS[0], "seg", "pending", None, None)
    with pytest.raises(ValueError, match="without an intent"):
        writer.results([done(FPS[0])])
    with pytest.raises(ValueError, match="without an intent"):
        writer.claim([FPS[0]])
    with pytest.raises(ValueError, match="not an evidence"):
        result_fields(FPS[0], "seg", "done", 200, None, evidence="guessed")
    writer.close()
    with pytest.raises(ReconcilerError, match="the run is closed"):
        writer.intents([FPS[1]], "seg", "d" * 64)


def test_a_keyed_ledger_is_written_only_with_its_key(keyed_proj: Proj) -> None:
    keyed_proj.create_ledger()
    with pytest.raises(ReconcilerError, match="writing to it needs its key"):
        RunWriter(keyed_proj.ledger_dir, "r1", {})
    with pytest.raises(ReconcilerError, match="made with a different key"):
        RunWriter(keyed_proj.ledger_dir, "r1", {}, key=b"another key")
    assert not run_files(keyed_proj.ledger_dir)


def test_refresh_resolution_and_unlock_records(proj: Proj) -> None:
    proj.create_ledger()
    writer = RunWriter(proj.ledger_dir, "r1", {})
    writer.intents([FPS[0]], "braze", "d" * 64)
    writer.results([result_fields(FPS[0], "braze", "accepted", 201, None)])
    writer.intents([FPS[1]], "braze", "d" * 64)  # answer lost
    writer.close()
    refresh = RunWriter(proj.ledger_dir, "r2", {"operation": "refresh"})
    refresh.refreshes("braze", [(FPS[0], "absent"), (FPS[1], "unverified"), (FPS[2], "present")])
    refresh.resolution(FPS[1], "braze", "done", "checked in the Braze dashboard", "ana@ops")
    refresh.unlock("0011223344556677", "ana@ops", "laptop", {"run": "r1", "pid": 7})
    refresh.close()
    ledger = read_ledger(proj.ledger_dir)
    assert ledger.ok, ledger.breaks
    first, second, third = (ledger.items[fp] for fp in FPS[:3])
    assert (first.state, first.evidence) == (DONE, "confirmed")
    assert (second.state, second.evidence) == (DONE, "resolved")
    assert "ana@ops" in (second.message or "") and "dashboard" in (second.message or "")
    assert third.state == "drifted"
    assert ledger.unlocks[0]["lock"] == "0011223344556677"
    pending = RunWriter(proj.ledger_dir, "r3", {})
    pending.resolution(FPS[2], "braze", "pending", "never sent after all", "ana@ops")
    pending.close()
    assert read_ledger(proj.ledger_dir).state_of(FPS[2]) is None


def test_answers_after_a_request_in_flight_wait_for_it_within_a_second(proj: Proj) -> None:
    """Concurrent requests answer out of order: answers after one still in flight wait
    for it (one stretch, no gap), but never longer than a second."""
    proj.create_ledger()
    clock = Clock()
    writer = RunWriter(proj.ledger_dir, "r1", {}, clock=clock)
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[:8]])
    for fp in FPS[:8]:
        writer.claim([fp])
    writer.results([done(fp) for fp in FPS[1:8]])  # FPS[0] still in flight
    writer.intents_ahead("seg", [([FPS[50]], "d" * 64)])  # would take waiting answers along
    assert kinds(writer.path) == ["run", "intent", "intent"]  # held: FPS[0] is in flight
    writer.results([done(FPS[0])])
    writer.flush()
    (rec,) = [json.loads(x) for x in lines_of(writer.path) if b'"result"' in x]
    assert (rec["at"], rec["s"]) == (0, "d" * 8)
    # a request that takes long does not hold the others past a second
    writer.claim([FPS[50]])
    writer.intents_ahead("seg", [([fp], "d" * 64) for fp in FPS[60:63]])
    for fp in FPS[60:63]:
        writer.claim([fp])
    writer.results([done(FPS[61])])
    clock.now = 1.5
    writer.results([done(FPS[62])])  # late: everything waiting is written
    results = [json.loads(x) for x in lines_of(writer.path) if b'"result"' in x]
    assert [(r["at"], r["s"]) for r in results[1:]] == [(1, "dd")]
    writer.close()
    assert read_ledger(proj.ledger_dir).state_of(FPS[50]) == UNKNOWN

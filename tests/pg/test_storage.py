"""The PostgreSQL backend against a real server: the same records as files, an
append-only table, leases and fencing refused by the database itself."""

from __future__ import annotations

import time

import psycopg
import pytest

from reconciler.desired import Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.files import FileStorage
from reconciler.ledger.lock import LockBroken
from reconciler.ledger.pg.connect import connect, mask, masked_dsn
from reconciler.ledger.pg.leases import LeaseHeld, LeaseKeeper, list_leases, release, take
from reconciler.ledger.pg.schema import ddl, grants
from reconciler.ledger.pg.storage import Fenced, PgStorage
from reconciler.ledger.pg.transfer import export_to, import_from
from reconciler.ledger.store import RunWriter, create_ledger, read_ledger
from reconciler.ledger.verify import verify_ledger

KEY = b"k" * 32
FPS = [f"{i:02x}" * 32 for i in range(1, 9)]


def new_ledger(dsn: str, schema: str = "reconciler") -> tuple[PgStorage, str]:
    storage = PgStorage(dsn, schema)
    header = create_ledger(storage_dir(), Fingerprinter.keyed(KEY), storage=storage)
    return storage, header.lineage


def storage_dir():  # the ledger_dir argument only names the ledger in messages
    from pathlib import Path

    return Path("ledger")


def write_run(storage: PgStorage, run: str, fps: list[str], target: str = "seg") -> RunWriter:
    writer = RunWriter(storage_dir(), run, {"operation": "apply"}, key=KEY, storage=storage)
    writer.intents(fps, target, "d" * 64)
    writer.results([{"fp": fp, "target": target, "status": "done", "code": 200} for fp in fps])
    return writer


def test_records_are_rows_read_back_as_the_file_ledger_reads_them(pg_dsn, tmp_path):
    storage, _ = new_ledger(pg_dsn)
    write_run(storage, "run1", FPS[:3]).close(removed=3)
    write_run(storage, "run2", FPS[3:5], target="mem").close(removed=2)
    ledger = read_ledger(storage_dir(), KEY, storage=storage)
    assert ledger.ok, ledger.breaks
    assert {fp: s.state for fp, s in ledger.items.items()} == {fp[:32]: "done" for fp in FPS[:5]}
    report = verify_ledger(storage_dir(), KEY, storage)
    assert report.ok and report.records == ledger.records + 1
    # export: byte for byte the file format; the same fold and the same heads
    export_to(storage, tmp_path / "exported")
    files = read_ledger(tmp_path / "exported", KEY)
    assert files.ok and files.heads == ledger.heads and files.digest == ledger.digest
    assert verify_ledger(tmp_path / "exported", KEY).ok
    # and back into another schema
    other = PgStorage(pg_dsn, "copy")
    import_from(FileStorage(tmp_path / "exported"), other)
    again = read_ledger(storage_dir(), KEY, storage=other)
    assert again.ok and again.digest == ledger.digest and again.heads == ledger.heads
    # a folder that holds anything is refused, and left as it was
    with pytest.raises(ReconcilerError, match="not an empty folder; nothing was exported"):
        export_to(storage, tmp_path / "exported")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]


def test_the_table_is_append_only_even_for_its_owner(pg_dsn):
    storage, _ = new_ledger(pg_dsn)
    write_run(storage, "run1", FPS[:2]).close()
    for statement in (
        "UPDATE {s}.ledger_records SET line = 'x'",
        "DELETE FROM {s}.ledger_records",
        "TRUNCATE {s}.ledger_records CASCADE",
        "UPDATE {s}.ledger_header SET line = 'x'",
        "DELETE FROM {s}.ledger_parts",
    ):
        with pytest.raises(ReconcilerError, match="append-only"):
            storage.execute(statement)
    assert read_ledger(storage_dir(), KEY, storage=storage).ok


def test_the_documented_grants_let_the_tool_append_and_nothing_more(pg_dsn):
    admin = connect(pg_dsn)
    admin.execute(ddl("reconciler"))  # type: ignore[call-overload]
    admin.execute("CREATE ROLE tool LOGIN PASSWORD 'hunter2-tool-pass'")
    admin.execute(grants("reconciler", "tool"))  # type: ignore[call-overload]
    tool_dsn = pg_dsn.replace("user=reconciler", "user=tool") + " password=hunter2-tool-pass"
    storage, lineage = new_ledger(tool_dsn)
    leases = take(storage, lineage, ["seg"], "apply", "me", "run1", 30)
    storage.fence = [lease.token for lease in leases]
    write_run(storage, "run1", FPS[:2]).close()
    release(storage, storage.fence)
    raw = connect(tool_dsn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        raw.execute("DELETE FROM reconciler.ledger_records")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        raw.execute("UPDATE reconciler.ledger_records SET line = 'x'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        raw.execute("CREATE TABLE reconciler.other (x int)")
    assert read_ledger(storage_dir(), KEY, storage=storage).ok


def test_a_lease_per_target_and_the_holder_named_when_refused(pg_dsn):
    storage, lineage = new_ledger(pg_dsn)
    first = take(storage, lineage, ["seg", "mem"], "apply", "alice@ci", "run1", 30)
    # another target proceeds; a held one is refused with who holds it, all or nothing
    other = take(storage, lineage, ["brz"], "apply", "bob@ci", "run2", 30)
    with pytest.raises(LeaseHeld) as refused:
        take(storage, lineage, ["ins", "mem"], "apply", "bob@ci", "run3", 30)
    text = str(refused.value)
    assert "the target mem is leased by another run; nothing was sent" in text
    assert "alice@ci" in text and "run1" in text and f"unlock {first[0].token}" in text
    assert first[0].target == "mem"  # taken in name order: two runs never deadlock
    assert {lease.target for lease in list_leases(storage)} == {"seg", "mem", "brz"}
    # tokens only grow
    assert other[0].token > max(lease.token for lease in first)


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_refused_by_the_database(pg_dsn):
    storage, lineage = new_ledger(pg_dsn)
    (old,) = take(storage, lineage, ["seg"], "apply", "paused", "run1", 2)
    paused = PgStorage(pg_dsn, "reconciler", fence=[old.token])
    writer = write_run(paused, "run1", FPS[:2])  # its lease is live: accepted
    with pytest.raises(LeaseHeld):
        take(storage, lineage, ["seg"], "apply", "new", "run2", 30)
    time.sleep(2.2)
    (new,) = take(storage, lineage, ["seg"], "apply", "new", "run2", 30)
    assert new.token > old.token
    before = read_ledger(storage_dir(), KEY, storage=storage).records
    # no guard in the way: the database itself refuses the stale token
    with pytest.raises(Fenced, match="fencing token"):
        writer.intents(FPS[2:4], "seg", "e" * 64)
    with pytest.raises(Fenced):
        writer.close()
    # a forged row with the new holder's token in the old run's part is refused too
    with pytest.raises(ReconcilerError, match="fencing tokens differ"):
        PgStorage(pg_dsn, fence=[new.token]).append_rows(writer._part.name, 99, [b"{}"])
    after = read_ledger(storage_dir(), KEY, storage=storage)
    assert after.records == before and after.ok


def test_the_keeper_renews_and_the_guard_stops_a_run_that_lost_its_lease(pg_dsn):
    storage, lineage = new_ledger(pg_dsn)
    leases = take(storage, lineage, ["seg"], "apply", "me", "run1", 3)
    keeper = LeaseKeeper(pg_dsn, "reconciler", leases, 3)
    try:
        time.sleep(4)  # past the first term: renewed
        keeper.check()
        assert list_leases(storage)[0].token == leases[0].token
        storage.execute("DELETE FROM {s}.ledger_leases")  # broken by someone else
        time.sleep(1.5)
        with pytest.raises(LockBroken, match="taken over or broken"):
            keeper.check()
    finally:
        keeper.stop()


def test_a_dsn_is_never_shown_with_its_password():
    dsn = "host=db.internal port=5432 user=tool password=s3cr3t-pw dbname=ledger"
    assert "s3cr3t-pw" not in masked_dsn(dsn)
    assert masked_dsn(dsn) == "dbname=ledger host=db.internal port=5432 user=tool"
    url = "postgresql://tool:s3cr3t-pw@db.internal/ledger"
    assert "s3cr3t-pw" not in mask(f"could not connect to {url}", url)
    with pytest.raises(ReconcilerError) as refused:
        connect("host=127.0.0.1 port=1 user=tool password=s3cr3t-pw dbname=x connect_timeout=2")
    assert "s3cr3t-pw" not in str(refused.value)
    assert "cannot be reached (dbname=x host=127.0.0.1 port=1 user=tool)" in str(refused.value)


def test_a_deferred_append_is_committed_before_the_next_and_its_failure_stops_the_part(pg_dsn):
    storage, lineage = new_ledger(pg_dsn)
    (lease,) = take(storage, lineage, ["seg"], "apply", "me", "run1", 30)
    live = PgStorage(pg_dsn, fence=[lease.token])
    part = live.create_part("20261202T000000000000Z-run1.jsonl")
    part.append(b"a\nb\n", durable=False)  # committed by a thread
    part.append(b"c\n")  # waits for it: rows in order, no gap
    assert [n for n, _ in live.lines(part.name, [])] == [1, 2, 3]
    release(storage, [lease.token])  # the lease is gone: the next deferred write fails
    part.append(b"d\n", durable=False)
    with pytest.raises(Fenced):
        part.append(b"e\n")
    with pytest.raises(Fenced):  # and every later one: never a gap in the part
        part.append(b"f\n")
    part.close()
    live.parts()
    assert [line for _, line in live.lines(part.name, [])] == [b"a", b"b", b"c"]

"""The shared ledger on a real PostgreSQL, with real processes and the sandbox over HTTP:
two applies on one target (one refuses, naming the holder; nothing is sent twice), on
two targets (both proceed at once), a SIGKILLed lease holder (its lease expires, its
intents stay, its in-flight items are unknown), a paused holder fenced out after a
takeover, and export/import round trips that verify on both sides."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from reconciler.ledger.pg.leases import list_leases
from reconciler.ledger.pg.storage import PgStorage
from reconciler.ledger.store import item_key, read_ledger
from reconciler.ledger.verify import item_events
from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.e2e.test_crash_safety import MANIFESTS, MEM_PROFILES, SEG_USERS, crash_seed
from tests.kit.e2e import NO_CHANGES, Project

LATENCY_MS = 150
DSN_ENV = "E2E_LEDGER_DSN"


@pytest.fixture(scope="module")
def slow_sandbox(credentials_file: Path) -> Iterator[Sandbox]:
    opts = options(credentials_file, latency_ms=LATENCY_MS)
    opts.seed = crash_seed()
    with Sandbox(opts, in_subprocess=True) as sb:
        yield sb


@pytest.fixture
def shared(
    tmp_path: Path, slow_sandbox: Sandbox, capsys: Any, monkeypatch: Any, pg_dsn: str
) -> Project:
    """A project whose ledger is in PostgreSQL (leases of 4 s)."""
    slow_sandbox.control.reset()
    project = Project(tmp_path, slow_sandbox.urls, capsys, monkeypatch)
    use_postgres(project, pg_dsn, "reconciler", lease_seconds=4)
    # Braze left out: every target here is applied by the tests
    project.write_specs({k: v for k, v in MANIFESTS.items() if k != "brz.yaml"})
    return project


def use_postgres(project: Project, dsn: str, schema: str, lease_seconds: int = 60) -> None:
    project.env[DSN_ENV] = dsn
    project.monkeypatch.setenv(DSN_ENV, dsn)
    ledger = {"backend": "postgres", "dsn_env": DSN_ENV, "schema": schema}
    # Segment paced at 3/s: a run on it lasts ~3 s, long enough to meet another
    project.write_config(
        rate_limits={"seg": {"requests": 3, "per": "second"}},
        ledger={**ledger, "lease_seconds": lease_seconds},
    )


def storage_of(project: Project) -> PgStorage:
    return PgStorage(project.env[DSN_ENV], "reconciler")


def deletes(sandbox: Sandbox, since: int = 0) -> list[dict[str, Any]]:
    """Vendor requests that delete (each target's preflight reads are left out)."""
    return [
        e
        for e in sandbox.control.requests(since=since)
        if e["method"] != "GET" and not e["path"].endswith("/export/ids")
    ]


def wait_for(sandbox: Sandbox, vendor: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if any(e["vendor"] == vendor for e in deletes(sandbox)):
            return
        time.sleep(0.01)
    raise AssertionError(f"no {vendor} delete within {limit}s")


def first_apply(project: Project) -> None:
    """The ledger's first run (creates it): Insider, so seg and mem are still pending."""
    done = project.cli("apply", "--auto-approve", "--target", "ins")
    assert done.code == 0, done.output


def test_two_applies_on_one_target_one_refuses_naming_the_holder_nothing_sent_twice(
    shared: Project, slow_sandbox: Sandbox
):
    first_apply(shared)
    since = slow_sandbox.control.requests()[-1]["seq"]
    args = ("apply", "--auto-approve", "--target", "seg", "--parallelism", "1")
    a = shared.popen(*args)
    wait_for(slow_sandbox, "segment")
    b = shared.popen(*args)
    b_out, b_err = b.communicate(timeout=60)
    a_out, a_err = a.communicate(timeout=60)
    assert a.returncode == 0, a_out + a_err
    assert b.returncode == 1, b_out + b_err
    assert "the target seg is leased by another run; nothing was sent" in b_err
    assert "Lease Info:" in b_err and "Operation: apply" in b_err and "PID: " in b_err
    assert f"PID: {a.pid}" in b_err
    # zero requests sent twice, each user's delete exactly once
    paths = Counter(e["path"] for e in deletes(slow_sandbox, since) if e["vendor"] == "segment")
    assert len(paths) == len(SEG_USERS) and set(paths.values()) == {1}, paths
    again = shared.cli("apply", "--auto-approve", "--target", "seg")
    assert again.code == 0 and "Nothing to send." in again.out, again.output
    assert shared.cli("ledger", "verify").code == 0
    assert list_leases(storage_of(shared)) == []


def test_applies_on_two_targets_proceed_in_parallel(shared: Project, slow_sandbox: Sandbox):
    first_apply(shared)
    since = slow_sandbox.control.requests()[-1]["seq"]
    seg = shared.popen("apply", "--auto-approve", "--target", "seg", "--parallelism", "1")
    mem = shared.popen("apply", "--auto-approve", "--target", "mem", "--parallelism", "1")
    seg_out, seg_err = seg.communicate(timeout=60)
    mem_out, mem_err = mem.communicate(timeout=60)
    assert seg.returncode == 0, seg_out + seg_err
    assert mem.returncode == 0, mem_out + mem_err
    log = deletes(slow_sandbox, since)
    seg_seqs = [e["seq"] for e in log if e["vendor"] == "segment"]
    mem_seqs = [e["seq"] for e in log if e["vendor"] == "twilio_memory"]
    assert len(seg_seqs) == len(SEG_USERS) and len(mem_seqs) == len(MEM_PROFILES)
    # the two runs' requests interleave: neither waited for the other
    assert min(seg_seqs) < max(mem_seqs) and min(mem_seqs) < max(seg_seqs), (seg_seqs, mem_seqs)
    verify = shared.cli("ledger", "verify")
    assert verify.code == 0, verify.output
    plan = shared.cli("plan")
    assert plan.out.rstrip().endswith(NO_CHANGES), plan.output
    # two concurrent runs after the same head: the ledger has two heads until the next run
    ledger = read_ledger(shared.ledger_dir, storage=storage_of(shared))
    assert len(ledger.heads) == 2 and ledger.conflicts == 0


def test_a_killed_lease_holder_its_lease_expires_its_intents_stay_in_flight_unknown(
    shared: Project, slow_sandbox: Sandbox
):
    first_apply(shared)
    a = shared.popen("apply", "--auto-approve", "--target", "seg", "--parallelism", "1")
    wait_for(slow_sandbox, "segment")
    time.sleep(0.2)
    a.send_signal(signal.SIGKILL)
    a.communicate(timeout=30)
    storage = storage_of(shared)
    (lease,) = list_leases(storage)
    assert lease.pid == a.pid and lease.target == "seg"
    listed = shared.cli("ledger", "leases")
    assert f"{lease.token}" in listed.out and "seg" in listed.out and str(a.pid) in listed.out
    # still live: the next apply is refused with the holder's info
    refused = shared.cli("apply", "--auto-approve", "--target", "seg")
    assert refused.code == 1 and f"PID: {a.pid}" in refused.err, refused.output
    # the killed run's intents are there; its in-flight items show as unknown
    events = list(item_events(shared.ledger_dir, storage=storage))
    run = lease.run
    intents = {e["fp"] for e in events if e["type"] == "intent" and e["run"] == run}
    results = {e["fp"] for e in events if e["type"] == "result" and e["run"] == run}
    assert intents, "the killed run recorded no intent"
    plan = shared.plan_json("--target", "seg")
    unknown = {item_key(a["fingerprint"]) for a in plan["actions"] if a["state"] == "unknown"}
    assert unknown == intents - results and unknown
    # once the lease expired (not renewed: its holder is dead), the next apply proceeds
    deadline = time.monotonic() + 15
    while True:
        rerun = shared.cli("apply", "--auto-approve", "--target", "seg")
        if rerun.code == 0 or time.monotonic() > deadline:
            break
        assert "leased by another run" in rerun.err, rerun.output
        time.sleep(0.5)
    assert rerun.code == 0, rerun.output
    assert shared.cli("plan", "--target", "seg").out.rstrip().endswith(NO_CHANGES)
    assert shared.cli("ledger", "verify").code == 0
    after = list(item_events(shared.ledger_dir, storage=storage))
    assert intents <= {e["fp"] for e in after if e["type"] == "intent" and e["run"] == run}


def test_a_paused_holder_cannot_write_after_another_took_its_expired_lease(
    shared: Project, slow_sandbox: Sandbox
):
    first_apply(shared)
    storage = storage_of(shared)
    a = shared.popen("apply", "--auto-approve", "--target", "seg", "--parallelism", "1")
    wait_for(slow_sandbox, "segment")
    (old,) = list_leases(storage)
    a.send_signal(signal.SIGSTOP)  # a VM paused, a partition: it believes it holds the lease
    try:
        time.sleep(4.5)  # past its term
        taken = shared.cli("apply", "--auto-approve", "--target", "seg")
        assert taken.code == 0, taken.output
        seq_after = slow_sandbox.control.requests()[-1]["seq"]
        rows = storage.execute(
            "SELECT count(*) FROM {s}.ledger_records WHERE part LIKE %s", [f"%-{old.run}%"]
        ).fetchone()[0]
    finally:
        a.send_signal(signal.SIGCONT)
    out, err = a.communicate(timeout=60)
    assert a.returncode == 1, out + err
    assert "lease" in err and ("Nothing more is sent" in err or "stopped before" in err), err
    # nothing sent by it after the takeover, and nothing appended: its guard stopped it
    # before the next request, and the database refused what it then wrote on its way
    # out (its withdrawals and `end` record, stamped with the stale token)
    assert deletes(slow_sandbox, seq_after) == []
    after = storage.execute(
        "SELECT count(*) FROM {s}.ledger_records WHERE part LIKE %s", [f"%-{old.run}%"]
    ).fetchone()[0]
    assert after == rows
    assert shared.cli("ledger", "verify").code == 0
    assert shared.cli("plan", "--target", "seg").out.rstrip().endswith(NO_CHANGES)


def test_unlock_of_a_lease_is_recorded_in_the_ledger(shared: Project, slow_sandbox: Sandbox):
    first_apply(shared)
    a = shared.popen("apply", "--auto-approve", "--target", "seg", "--parallelism", "1")
    wait_for(slow_sandbox, "segment")
    a.send_signal(signal.SIGKILL)
    a.communicate(timeout=30)
    storage = storage_of(shared)
    (lease,) = list_leases(storage)
    wrong = shared.cli("ledger", "unlock", "not-a-token", "--force")
    assert wrong.code == 1 and "not a lease token" in wrong.err
    done = shared.cli("ledger", "unlock", str(lease.token), "--force")
    assert done.code == 0 and "recorded in the ledger" in done.out, done.output
    assert list_leases(storage) == []
    ledger = read_ledger(shared.ledger_dir, storage=storage)
    (unlock,) = ledger.unlocks
    assert unlock["lock"] == f"lease:{lease.token}"
    assert unlock["held_by"]["run"] == lease.run and unlock["held_by"]["pid"] == a.pid
    rerun = shared.cli("apply", "--auto-approve", "--target", "seg")
    assert rerun.code == 0, rerun.output


def test_export_and_import_round_trip_verify_on_both_sides(
    shared: Project, slow_sandbox: Sandbox, pg_cluster: Any
):
    first_apply(shared)
    assert shared.cli("apply", "--auto-approve", "--target", "mem").code == 0
    out = shared.root / "exported"
    exported = shared.cli("ledger", "export", str(out))
    assert exported.code == 0 and "the ledger verifies there" in exported.out, exported.output
    pg_plan = shared.plan_json()
    # the files, as a file ledger: it verifies and plans the same
    shared.write_config(ledger={"path": "exported"})
    verify = shared.cli("ledger", "verify")
    assert verify.code == 0, verify.output
    assert shared.plan_json()["actions"] == pg_plan["actions"]
    # imported into another database
    other = pg_cluster.create_database("imported")
    use_postgres(shared, other, "reconciler")
    imported = shared.cli("ledger", "import", str(out))
    assert imported.code == 0 and "the ledger verifies there" in imported.out, imported.output
    assert shared.cli("ledger", "verify").code == 0
    assert shared.plan_json()["actions"] == pg_plan["actions"]
    # a ledger that does not verify is refused, and nothing is imported
    run_file = sorted((out / "runs").iterdir())[-1]
    run_file.write_bytes(run_file.read_bytes().replace(b'"removed"', b'"rem0ved"', 1))
    bad = pg_cluster.create_database("refused")
    use_postgres(shared, bad, "reconciler")
    refused = shared.cli("ledger", "import", str(out))
    assert refused.code == 1 and "does not verify" in refused.err, refused.output
    assert PgStorage(bad, "reconciler").read_header() is None


def test_refresh_on_postgres_reads_back_under_the_targets_lease(
    shared: Project, slow_sandbox: Sandbox
):
    first_apply(shared)  # Insider acknowledges: accepted
    refreshed = shared.cli("refresh", "--target", "ins", "--min-age", "0s")
    assert refreshed.code == 0, refreshed.output
    storage = storage_of(shared)
    ledger = read_ledger(shared.ledger_dir, storage=storage)
    (run,) = [r for r in ledger.runs.values() if r.get("operation") == "refresh"]
    assert set(run["leases"]) == {"ins"}
    assert ledger.read_at, "the refresh recorded no read"
    assert list_leases(storage) == []
    assert shared.cli("ledger", "verify").code == 0


def test_a_saved_plan_on_postgres_is_shown_applied_once_and_refused_when_edited(
    shared: Project, slow_sandbox: Sandbox
) -> None:
    """Salted (no key): `show` takes the salt from the PostgreSQL ledger's header."""
    first_apply(shared)
    made = shared.cli("plan", "--format", "json", "--out", "pg.plan", "--target", "mem")
    assert made.code == 0, made.output
    shown = shared.cli("show", "pg.plan", "--format", "json")
    assert shown.code == 0 and shown.out == made.out, shown.output
    path = shared.root / "pg.plan"
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes((good[-1] ^ 1,)))
    seq = slow_sandbox.control.requests()[-1]["seq"]
    edited = shared.cli("apply", "pg.plan")
    assert edited.code == 1 and "the plan file was modified" in edited.err
    assert deletes(slow_sandbox, since=seq) == []
    path.write_bytes(good)
    applied = shared.cli("apply", "pg.plan")
    assert applied.code == 0, applied.output
    assert {e["vendor"] for e in deletes(slow_sandbox, since=seq)} == {"twilio_memory"}
    again = shared.cli("apply", "pg.plan")
    assert again.code == 1 and "Saved plan is stale" in again.err


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_a_report_from_the_postgres_ledger_verifies_and_an_altered_row_is_named(
    shared: Project, slow_sandbox: Sandbox, pg_dsn: str, fmt: str
) -> None:
    """`reconcile report` and `ledger verify --report` read the PostgreSQL ledger as they
    read files: the report cites its records, verifies, and stops verifying when a cited
    row is altered in the database."""
    first_apply(shared)
    out = shared.root / f"report.{fmt}"
    made = shared.cli("report", "--format", fmt, "--out", str(out))
    assert made.code == 0, made.output
    ok = shared.cli("ledger", "verify", "--report", str(out))
    assert ok.code == 0, ok.output
    assert "The report verifies" in ok.out and "cited record(s)" in ok.out
    # an administrator who lifts the append-only trigger and edits a row in place
    text = "convert_from(line, 'UTF8')"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE reconciler.ledger_records DISABLE TRIGGER ledger_records_append_only"
        )
        # the first result row with a vendor's code: 200 becomes 1200
        changed = conn.execute(
            f"UPDATE reconciler.ledger_records SET line = convert_to(replace({text}, "
            f"'\"code\":', '\"code\":1'), 'UTF8') WHERE (part, no) = (SELECT part, no "
            f"FROM reconciler.ledger_records WHERE position('\"code\":' in {text}) > 0 "
            "ORDER BY part, no LIMIT 1)"
        ).rowcount
        conn.execute(
            "ALTER TABLE reconciler.ledger_records ENABLE TRIGGER ledger_records_append_only"
        )
    assert changed == 1
    bad = shared.cli("ledger", "verify", "--report", str(out))
    assert bad.code == 1, bad.output
    assert "was altered" in bad.err and "does not verify" in bad.err

"""Crash safety: `reconcile apply` SIGKILLed at random points, again and again.

After each kill: the ledger verifies; every deletion request the sandbox received has
an intent in the ledger; the next plan shows exactly the in-flight items as unknown;
`ledger unlock ID --force` clears the lock the dead run left; a rerun completes
everything and plan then shows No changes.

The sandbox runs in its own process with added latency, so a run is in flight long
enough to be killed mid-way. Requests are mapped back to items by path where the path
names the item (Segment: one item per user_id; Twilio: profile and idType), by batch
where the batch is the whole target (Braze, Insider attributes: one request each), and
by the vendor's state for Insider identity deletes (one path for all).
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.load import load_config
from reconciler.desired import Fingerprinter
from reconciler.ledger.files import FileStorage
from reconciler.ledger.lock import read_lock
from reconciler.ledger.pg.leases import list_leases
from reconciler.ledger.pg.storage import PgStorage
from reconciler.ledger.storage import Storage
from reconciler.ledger.store import item_key, read_ledger
from reconciler.ledger.verify import item_events
from reconciler.manifests import load_specs
from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.kit.e2e import NO_CHANGES, SEED, SPACE, STORE, Project, removal, summary

RUNS = 24
SEED_RANDOM = 5_2026
LATENCY_MS = 120

SEG_USERS = [f"u_crash_{i}" for i in range(8)]
MEM_PROFILES = [f"mem_profile_0crash{i:020d}" for i in range(4)]
BRAZE_IDS = [f"ext_crash_{i}" for i in range(5)]
INSIDER_USERS = [f"crash{i}@insider.example" for i in range(3)]
INSIDER_IDS = [f"uuid-crash-{i}" for i in range(2)]


def crash_seed() -> dict[str, Any]:
    seed = deepcopy(SEED)
    profiles = seed["segment"]["spaces"][SPACE]["profiles"]
    for user in SEG_USERS:
        ids = [{"type": "user_id", "id": user}, {"type": "email", "id": f"{user}@seg.example"}]
        profiles.append({"external_ids": ids})
    seed["braze"]["users"] += [{"external_id": e} for e in BRAZE_IDS]
    store = seed["twilio_memory"]["stores"][STORE]["profiles"]
    for p in MEM_PROFILES:
        store[p] = {"identifiers": {"email": [f"{p}@mem.example"]}}
    users = seed["insider"]["users"]
    for i, email in enumerate(INSIDER_USERS):
        users.append(
            {
                "insider_id": f"iid_crash_{i}",
                "identifiers": {"email": email, "uuid": f"uuid-crash-{i}"},
                "attributes": {"name": f"N{i}"},
            }
        )
    return seed


MANIFESTS = {
    "seg.yaml": removal(
        "crash-seg",
        "seg",
        {
            "absent": [
                {
                    "profile": {"user_id": u},
                    "identifiers": [{"type": "email", "value": f"{u}@seg.example"}],
                }
                for u in SEG_USERS
            ]
        },
    ),
    "brz.yaml": removal(
        "crash-brz",
        "brz",
        {"delete_profiles": True, "absent": [{"profile": {"external_id": e}} for e in BRAZE_IDS]},
    ),
    "mem.yaml": removal(
        "crash-mem",
        "mem",
        {
            "absent": [
                {
                    "profile": {"profile_id": p},
                    "identifiers": [{"type": "email", "all_values": True}],
                }
                for p in MEM_PROFILES
            ]
        },
    ),
    "ins.yaml": removal(
        "crash-ins",
        "ins",
        {
            "absent": [
                *({"profile": {"email": e}, "attributes": ["name"]} for e in INSIDER_USERS),
                {"identifiers": [{"type": "uuid", "value": v} for v in INSIDER_IDS]},
            ]
        },
    ),
}
ITEMS = len(SEG_USERS) + len(BRAZE_IDS) + len(MEM_PROFILES) + len(INSIDER_USERS) + len(INSIDER_IDS)


@pytest.fixture(scope="module")
def slow_sandbox(credentials_file: Path) -> Iterator[Sandbox]:
    opts = options(credentials_file, latency_ms=LATENCY_MS)
    opts.seed = crash_seed()
    with Sandbox(opts, in_subprocess=True) as sb:
        yield sb


# reads sent as POST: Braze's export, Insider's profile read
READ_PATHS = ("/braze/users/export/ids", "/insider/api/user/v1/profile")


class ItemMap:
    """Fingerprints of the project's items, and which items a logged request carried."""

    def __init__(self, root: Path, storage: Storage) -> None:
        config = load_config(root / "reconciler.yaml")
        ledger = read_ledger(config.ledger_dir, storage=storage)
        assert ledger.header is not None
        fp: Fingerprinter = ledger.header.fingerprinter(None)
        loaded = load_specs(config, [])
        assert not loaded.problems
        self.by_path: dict[tuple[str, str], str] = {}
        self.batch: dict[tuple[str, str, str], set[str]] = {}
        self.identity: dict[str, str] = {}  # uuid -> fp
        self.all: set[str] = set()
        for d in loaded.desired:
            item, f = d.item, item_key(fp(d.item))  # the ledger's key for the item
            self.all.add(f)
            if item.vendor == "segment":
                user = item.locator["user_id"]
                path = (
                    f"/segment/v1/spaces/{SPACE}/collections/users/profiles/user_id:{user}"
                    "/external_ids/delete"
                )
                self.by_path[("segment", path)] = f
            elif item.vendor == "twilio_memory":
                path = (
                    f"/twilio_memory/v1/Stores/{STORE}/Profiles/{item.locator['profile_id']}"
                    f"/Identifiers/{item.removal['type']}"
                )
                self.by_path[("twilio_memory", path)] = f
            elif item.vendor == "braze":
                self.batch.setdefault(("braze", "POST", "/braze/users/delete"), set()).add(f)
            elif item.kind == "identifier":
                self.identity[item.removal["value"]] = f
            else:
                key = ("insider", "POST", "/insider/api/user/v1/attribute/delete")
                self.batch.setdefault(key, set()).add(f)

    def carried(self, entry: dict[str, Any]) -> set[str]:
        """The fingerprints a logged request was about (identity deletes: see below)."""
        if is_read(entry):
            return set()  # reads (each target's preflight) remove nothing
        key = (entry["vendor"], entry["path"])
        if key in self.by_path:
            return {self.by_path[key]}
        batch = self.batch.get((entry["vendor"], entry["method"], entry["path"]))
        if batch is not None:
            return batch
        assert entry["path"] == "/insider/api/user/v1/identity", entry
        return set()


def ledger_records(ledger_dir: Path, storage: Storage) -> list[dict[str, Any]]:
    """One event per item and record (records name groups of items), as stored."""
    return list(item_events(ledger_dir, storage=storage))


def last_record(storage: Storage) -> list[dict[str, Any]]:
    out = []
    for name in storage.parts():
        # complete lines only: a torn last line is not a record
        out += [json.loads(line) for _, line in storage.lines(name, [])]
    return out[-1:]


def is_read(entry: dict[str, Any]) -> bool:
    return entry["method"] == "GET" or entry["path"].endswith(READ_PATHS)


def wait_for_first_request(sandbox: Sandbox, proc: Any, limit: float = 10.0) -> None:
    """Until the sandbox saw the first deletion (not a preflight read: on a loaded machine
    the reads come well before the deletes, and a kill between them has nothing in flight)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if any(not is_read(e) for e in sandbox.control.requests()):
            return
        time.sleep(0.01)


@pytest.mark.parametrize("backend", ["files", "postgres"])
def test_sigkill_at_random_points_leaves_a_recoverable_ledger(
    tmp_path, slow_sandbox, capsys, monkeypatch, backend, request
):
    """The same for both backends: with postgres, the dead run's leases are what
    `ledger unlock TOKEN --force` clears (`ledger leases` lists them)."""
    dsn = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
    rng = random.Random(SEED_RANDOM)
    killed_mid_flight = 0
    unknown_seen = 0
    locks_broken = 0
    started = time.monotonic()
    for run in range(RUNS):
        slow_sandbox.control.reset()
        root = tmp_path / f"run{run}"
        root.mkdir()
        project = Project(root, slow_sandbox.urls, capsys, monkeypatch)
        storage: Storage
        if dsn is None:
            project.write_config()
            storage = FileStorage(project.ledger_dir)
        else:
            project.env["E2E_LEDGER_DSN"] = dsn
            monkeypatch.setenv("E2E_LEDGER_DSN", dsn)
            ledger = {"backend": "postgres", "dsn_env": "E2E_LEDGER_DSN", "schema": f"crash{run}"}
            project.write_config(ledger=ledger)
            storage = PgStorage(dsn, f"crash{run}")
        project.write_specs(MANIFESTS)

        proc = project.popen("apply", "--auto-approve", "--parallelism", "2")
        # Half the kills at a random instant from the start (start-up, planning, the
        # lock, the new ledger...), half at a random instant after the first request.
        if run % 2 == 0:
            time.sleep(rng.uniform(0.2, 1.6))
        else:
            wait_for_first_request(slow_sandbox, proc)
            time.sleep(rng.uniform(0.0, 0.6))
        finished_before_kill = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        time.sleep(0.05)  # let requests already on the wire reach the sandbox's log

        log = slow_sandbox.control.requests()
        state = slow_sandbox.control.state()
        context = f"run {run}: {len(log)} request(s) received"

        # 1. the ledger verifies
        verify = project.cli("ledger", "verify")
        assert verify.code == 0, f"{context}\n{verify.output}"

        ledger_dir = project.ledger_dir
        if storage.read_header() is None:
            assert log == [], f"{context}: requests sent before the ledger existed"
            assert not storage.parts()
        else:
            records = ledger_records(ledger_dir, storage)
            intents = {r["fp"] for r in records if r["type"] == "intent"}
            results = {r["fp"] for r in records if r["type"] == "result"}
            items = ItemMap(root, storage)
            # 2. every request the sandbox received has an intent for each item it carried
            for entry in log:
                missing = items.carried(entry) - intents
                assert not missing, f"{context}: {entry['method']} {entry['path']} had no intent"
            # identity deletes share one path: no more were received than had intents
            # (no faults here, so nothing was retried), and any whose identifier the
            # vendor removed had one
            identity_sent = [e for e in log if e["path"].endswith("/identity")]
            identity_intents = intents & set(items.identity.values())
            assert len(identity_sent) <= len(identity_intents), context
            uuids_left = {u["identifiers"].get("uuid") for u in state["insider"]["users"]}
            for uuid, f in items.identity.items():
                if uuid not in uuids_left:  # the sandbox removed it: it was sent
                    assert f in intents, f"{context}: identity {uuid} removed without intent"

            # 3. the next plan shows exactly the in-flight items as unknown
            plan = project.plan_json()
            by_state: dict[str, set[str]] = {}
            for action in plan["actions"]:
                by_state.setdefault(action["state"], set()).add(item_key(action["fingerprint"]))
            in_flight = intents - results
            assert by_state.get("unknown", set()) == in_flight, context
            assert by_state.get("pending", set()) == items.all - intents, context
            unknown_seen += len(in_flight)
            if in_flight:
                killed_mid_flight += 1

        # 4. the dead run's lock is cleared by unlock --force with its ID
        lock_file = ledger_dir / ".lock"
        leases = list_leases(storage) if isinstance(storage, PgStorage) else []
        if leases:
            for lease in leases:
                unlock = project.cli("ledger", "unlock", str(lease.token), "--force")
                assert unlock.code == 0, unlock.output
            assert isinstance(storage, PgStorage) and list_leases(storage) == []
            locks_broken += 1
        elif lock_file.exists():
            lock_id = json.loads(lock_file.read_text())["id"]
            assert read_lock(ledger_dir).id == lock_id
            unlock = project.cli("ledger", "unlock", lock_id, "--force")
            assert unlock.code == 0, unlock.output
            assert not lock_file.exists()
            locks_broken += 1
        else:
            # no lock: killed before taking it, or after the run released it
            last = last_record(storage)
            assert not last or last[0]["type"] == "end" or finished_before_kill, context

        # 5. a rerun completes everything
        rerun = project.cli("apply", "--auto-approve")
        assert rerun.code == 0, f"{context}\n{rerun.output}"
        if "Apply complete" in rerun.out:
            assert summary(rerun)[3:] == (0, 0), rerun.output
        else:  # the killed run had recorded every result
            assert "Nothing to send." in rerun.out
        plan = project.cli("plan")
        assert plan.out.rstrip().endswith(NO_CHANGES), f"{context}\n{plan.output}"
        assert len(project.plan_json()["actions"]) == ITEMS
        assert project.cli("ledger", "verify").code == 0
        project.assert_no_secrets()
        if isinstance(storage, PgStorage):
            storage.close()

    elapsed = time.monotonic() - started
    print(
        f"{RUNS} kills in {elapsed:.0f}s: {killed_mid_flight} with requests in flight "
        f"({unknown_seen} unknown items in all), {locks_broken} locks broken"
    )
    # the runs covered what they are for
    assert killed_mid_flight >= RUNS // 3, (killed_mid_flight, unknown_seen)
    assert locks_broken >= RUNS // 2, locks_broken

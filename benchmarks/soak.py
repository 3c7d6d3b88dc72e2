"""Fault soak: many items across the four vendors against a faulty sandbox, with apply
killed (SIGKILL) at random moments and restarted. Not part of the test run.

    python benchmarks/soak.py [--items 100000] [--kills 50] [--seed 7] [--rate-scale 50]

The sandbox runs in its own process (rate limits scaled up by --rate-scale so the run
ends in reasonable time) with 10% 503s, 1% slow answers past the client's 30 s timeout
(slow_ms 31 s), 1% connection resets, and a 429 storm (90% throttled) for 1 s every 5 s;
reads are spared so each apply's preflight passes. Apply runs as a subprocess and is
SIGKILLed --kills times at seeded random moments; each kill is followed by
`reconcile ledger unlock --force` of the dead run's lock and a restart. Then the faults
stop and apply runs until nothing is left to send.

Checked at the end: every item in a final state (done, accepted or rejected; Braze deletes
by email held for a person when a kill lost their answer), `ledger verify` passes, the
sandbox's log shows no request for a Segment or Twilio item after the ledger recorded it
done or accepted (their paths name the item), no Braze email item was sent twice (the
ledger's intent records: one is fsynced before each request), and requests per item.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from reconciler.ledger.lock import read_lock
from reconciler.ledger.verify import item_events
from reconciler.sandbox.context import SandboxOptions
from reconciler.sandbox.server import Sandbox

SPACE = "spa_soak1"
STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PARTNER = "soakbrand"
SECRETS = {
    "SOAK_SEG": "soak-segment-token",
    "SOAK_BRAZE": "soak-braze-key",
    "SOAK_SID": "AC50ac0000000000000000000000000000",
    "SOAK_TWILIO": "soak-twilio-token",
    "SOAK_INS": "soak-insider-token",
    "SOAK_LEDGER": "soak-ledger-key",
}
CREDENTIALS = {
    "segment": {"tokens": [SECRETS["SOAK_SEG"]]},
    "braze": {"api_keys": {SECRETS["SOAK_BRAZE"]: ["users.delete", "users.export.ids"]}},
    "twilio_memory": {"accounts": {SECRETS["SOAK_SID"]: SECRETS["SOAK_TWILIO"]}},
    "insider": {"partners": {PARTNER: SECRETS["SOAK_INS"]}},
}
FINAL = {"done", "accepted", "rejected"}


def profile_id(i: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    tail, n = "", i
    for _ in range(25):
        tail, n = digits[n % 36] + tail, n // 36
    return f"mem_profile_0{tail}"


def build(root: Path, items: int, email_share: float) -> tuple[dict[str, Any], dict[str, int]]:
    """The project (config, manifests, CSVs) and the sandbox seed; counts per vendor."""
    per = items // 4
    emails = int(per * email_share)
    seed: dict[str, Any] = {
        "segment": {
            "spaces": {
                SPACE: {
                    "profiles": [
                        {
                            "external_ids": [
                                {"type": "user_id", "id": f"u_{i}"},
                                {"type": "email", "id": f"s{i}@soak.example"},
                            ]
                        }
                        for i in range(per)
                    ]
                }
            }
        },
        "braze": {
            "users": [{"external_id": f"b_{i}"} for i in range(per - emails)]
            + [{"email": f"b{i}@soak.example"} for i in range(emails)]
        },
        "twilio_memory": {
            "stores": {
                STORE: {
                    "identifier_configs": [{"idType": "phone"}],
                    "profiles": {
                        profile_id(i): {"identifiers": {"phone": [f"+1555{i:07d}"]}}
                        for i in range(per)
                    },
                }
            }
        },
        "insider": {
            "users": [
                {
                    "insider_id": f"iid_{i}",
                    "identifiers": {"email": f"i{i}@soak.example"},
                    "attributes": {"name": f"N{i}"},
                }
                for i in range(per)
            ]
        },
    }
    specs = root / "specs"
    specs.mkdir(parents=True)

    def manifest(name: str, target: str, csv: str, **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "reconciler/v1",
            "kind": "Removal",
            "metadata": {"name": name, "owner": "soak", "reason": "fault soak"},
            "spec": {"target": target, "absent_csv": [csv], **spec},
        }

    (specs / "seg.csv").write_text(
        "user_id,type,value\n" + "".join(f"u_{i},email,s{i}@soak.example\n" for i in range(per))
    )
    (specs / "braze-ids.csv").write_text(
        "external_id\n" + "".join(f"b_{i}\n" for i in range(per - emails))
    )
    (specs / "braze-emails.csv").write_text(
        "email,prioritization\n"
        + "".join(f"b{i}@soak.example,most_recently_updated\n" for i in range(emails))
    )
    (specs / "mem.csv").write_text(
        "profile_id,type\n" + "".join(f"{profile_id(i)},phone\n" for i in range(per))
    )
    (specs / "ins.csv").write_text(
        "email,attribute\n" + "".join(f"i{i}@soak.example,name\n" for i in range(per))
    )
    docs = [
        manifest("soak-seg", "seg", "seg.csv"),
        manifest("soak-braze-ids", "brz", "braze-ids.csv", delete_profiles=True),
        manifest("soak-braze-emails", "brz", "braze-emails.csv", delete_profiles=True),
        manifest("soak-mem", "mem", "mem.csv"),
        manifest("soak-ins", "ins", "ins.csv"),
    ]
    (specs / "soak.yaml").write_text(yaml.safe_dump_all(docs))
    counts = {"segment": per, "braze": per, "braze_email": emails, "twilio_memory": per}
    counts["insider"] = per
    return seed, counts


def write_config(root: Path, urls: dict[str, str]) -> None:
    config = {
        "version": 1,
        "ledger": {"path": "state/ledger", "key_env": "SOAK_LEDGER"},
        "targets": {
            "seg": {
                "vendor": "segment",
                "space_id": SPACE,
                "token_env": "SOAK_SEG",
                "base_url": urls["segment"],
                "breaker": {"consecutive_failures": 1000},
            },
            "brz": {
                "vendor": "braze",
                "api_key_env": "SOAK_BRAZE",
                "base_url": urls["braze"],
                "breaker": {"consecutive_failures": 1000},
            },
            "mem": {
                "vendor": "twilio_memory",
                "store_id": STORE,
                "account_sid_env": "SOAK_SID",
                "auth_token_env": "SOAK_TWILIO",
                "base_url": urls["twilio_memory"],
                "breaker": {"consecutive_failures": 1000},
            },
            "ins": {
                "vendor": "insider",
                "partner_name": PARTNER,
                "token_env": "SOAK_INS",
                "base_url": urls["insider"],
                "breaker": {"consecutive_failures": 1000},
            },
        },
    }
    (root / "reconciler.yaml").write_text(yaml.safe_dump(config))


def reconcile() -> list[str]:
    exe = Path(sys.executable).with_name("reconcile")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "reconciler"]


def env() -> dict[str, str]:
    return dict(os.environ, **SECRETS)


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*reconcile(), *args], cwd=root, env=env(), capture_output=True, text=True, timeout=3600
    )


def storms(sandbox: Sandbox, stop: threading.Event, period: float, length: float) -> None:
    """A 429 storm on every vendor for `length` seconds out of every `period`."""
    while not stop.wait(period - length):
        sandbox.control.set_faults("*", throttle_rate=0.9)
        stop.wait(length)
        sandbox.control.set_faults("*", throttle_rate=0.0)


def ledger_records(root: Path) -> list[dict[str, Any]]:
    """One event per item and record, in chain order (format 2 groups several items in
    one intent or result record: item_events spreads them out)."""
    return list(item_events(root / "state/ledger"))


def epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rate-scale", type=float, default=50.0)
    ap.add_argument("--email-share", type=float, default=0.1, help="Braze items by email")
    ap.add_argument("--max-kill-after", type=float, default=20.0, help="seconds")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reconcile-soak-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        seed, counts = build(root, args.items, args.email_share)
        creds = Path(tmp) / "credentials.yaml"
        creds.write_text(yaml.safe_dump(CREDENTIALS))
        options = SandboxOptions(
            seed=seed,
            seed_random=args.seed,
            credentials=creds,
            rate_scale=args.rate_scale,
            twilio_removal_delay=0.05,
            braze_removal_delay=0.05,
            max_logged_requests=20 * args.items + 100_000,
        )
        with Sandbox(options, in_subprocess=True) as sandbox:
            write_config(root, sandbox.urls)
            faults = dict(fail_rate=0.10, slow_rate=0.01, slow_ms=31_000, reset_rate=0.01)
            sandbox.control.set_faults("*", faults_on_reads=0, **faults)
            stop = threading.Event()
            storm = threading.Thread(target=storms, args=(sandbox, stop, 5.0, 1.0), daemon=True)
            storm.start()
            kills = unlocks = 0
            apply_args = ["apply", "--auto-approve", "--parallelism", "16"]
            while kills < args.kills:
                proc = subprocess.Popen(
                    [*reconcile(), *apply_args],
                    cwd=root,
                    env=env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    proc.wait(timeout=rnd.uniform(0.5, args.max_kill_after))
                    continue  # it ended by itself (everything sent): no kill this round
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                lock = read_lock(root / "state/ledger")
                if lock is not None:
                    done = cli(root, "ledger", "unlock", lock.id, "--force")
                    if done.returncode != 0:
                        raise SystemExit(f"unlock failed: {done.stdout}{done.stderr}")
                    unlocks += 1
                print(f"kill {kills}/{args.kills} (unlocked {unlocks})", flush=True)
            stop.set()
            storm.join()
            sandbox.control.set_faults("*", fail_rate=0, slow_rate=0, reset_rate=0, throttle_rate=0)
            finals = 0
            while True:
                finals += 1
                done = cli(root, *apply_args)
                # 4: all sent, but Braze email items whose answer a kill lost are held
                if done.returncode in (0, 4) or finals >= 10:
                    break
            log = sandbox.control.requests()
        elapsed = time.monotonic() - started
        verify = cli(root, "ledger", "verify")
        listing = cli(root, "ledger", "list", "--format", "json")
        report(root, args, counts, log, verify, listing, kills, finals, elapsed, done)


def report(root, args, counts, log, verify, listing, kills, finals, elapsed, last) -> None:
    records = ledger_records(root)
    states = Counter(item["state"] for item in json.loads(listing.stdout)["items"])
    # when each item was first recorded done or accepted, by fingerprint
    settled: dict[str, float] = {}
    intents: Counter[str] = Counter()
    target_of: dict[str, str] = {}
    for r in records:
        if r.get("type") == "intent":
            intents[r["fp"]] += 1
            target_of[r["fp"]] = r.get("target", "")
        if r.get("type") == "result" and r.get("state") in ("done", "accepted"):
            settled.setdefault(r["fp"], epoch(r["ts"]))
    deletes = [e for e in log if e["method"] in ("POST", "DELETE") and e["fault"] != "echo"]
    reads = len(log) - len(deletes)
    items = sum(v for k, v in counts.items() if k != "braze_email")
    print(f"\nitems: {items} ({counts}); kills: {kills}; final applies: {finals}")
    print(f"elapsed: {elapsed:.0f} s; last apply exit {last.returncode}: {last.stdout[-300:]}")
    print(f"states (ledger list): {dict(states)}")
    print(f"ledger verify: exit {verify.returncode} {verify.stdout.strip()[-200:]}")
    print(f"requests: {len(log)} ({len(deletes)} deletes, {reads} reads)")
    print(f"delete requests per item: {len(deletes) / items:.3f}")
    for vendor in ("segment", "braze", "twilio_memory", "insider"):
        sent = sum(1 for e in deletes if e["vendor"] == vendor)
        print(f"  {vendor}: {sent} delete requests for {counts[vendor]} items")
    late, emails = check_after_done(root, records, deletes)
    twice = [fp for fp in emails if intents[fp] > 1]
    print(f"Braze email items: {len(emails)}; with more than one intent (sent twice): {len(twice)}")
    print(f"requests for an item after it was recorded done/accepted: {late}")


def check_after_done(
    root: Path, records: list[dict[str, Any]], deletes: list[dict]
) -> tuple[int, set[str]]:
    """Segment and Twilio requests name their item in the path; compare each item's
    last request with the first time the ledger recorded it settled. The ledger keys
    items by fingerprint, so the mapping path -> fingerprint comes from the saved plan."""
    # every item's request, from a plan of the manifests without the ledger
    ledger = root / "state/ledger"
    moved = root / "state/ledger-aside"
    ledger.rename(moved)
    try:
        full = cli(root, "plan", "--format", "json", "--show-values")
    finally:
        moved.rename(ledger)
    path_of = {}
    emails: set[str] = set()
    for action in json.loads(full.stdout)["actions"]:
        request = action.get("request") or {}
        if action["vendor"] == "braze" and "email" in json.dumps(request.get("body")):
            emails.add(action["fingerprint"])
        if action["vendor"] in ("segment", "twilio_memory") and request.get("path"):
            path_of[action["fingerprint"]] = request["path"]
    settled: dict[str, float] = {}
    for r in records:
        if r.get("type") == "result" and r.get("state") in ("done", "accepted"):
            settled.setdefault(r["fp"], epoch(r["ts"]))
    by_path: dict[str, list[float]] = {}
    for e in deletes:
        by_path.setdefault(e["path"], []).append(e["time"])
    late = 0
    for fp, path in path_of.items():
        if fp in settled:
            late += sum(1 for t in by_path.get(path, []) if t > settled[fp] + 0.001)
    return late, emails


if __name__ == "__main__":
    main()

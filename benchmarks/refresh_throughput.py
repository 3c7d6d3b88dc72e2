"""Refresh throughput against the sandbox, as a fraction of Segment's read limit, versus a
naive loop, in the same run.

    python benchmarks/refresh_throughput.py [--items 100000] [--naive-items 200]

Setup (not measured): the ledger of an apply that removed one email from each of ITEMS
Segment profiles, written directly with the ledger's own writer from the plan's
fingerprints (`--setup apply` runs the real apply instead: at Segment's 100/s that takes
as long as the refresh). Then a sandbox with the documented limit (Profile API: 100
requests/s per space, FACTS.md §4) and 50 ms of latency per answer, and `reconcile
refresh --min-age 0` reads every item back as a subprocess. The sandbox's request log
gives the steady-state read rate (first to last read, and per tenth of the run),
reported as a fraction of the limit; the naive baseline is one blocking Profile API read
after another. Also: the refresh's CPU time per read, its peak RSS, and 429s.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from reconciler.sandbox.context import SandboxOptions
from reconciler.sandbox.server import Sandbox

LATENCY_MS = 50.0
LIMIT = 100.0  # Profile API requests per second per space (FACTS.md §4)
SPACE = "spa_bench"
TOKEN = "bench-segment-token"
KEY = "bench-ledger-key"


def reconcile() -> list[str]:
    exe = Path(sys.executable).with_name("reconcile")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "reconciler"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_project(root: Path, base_url: str, items: int, rate: float | None) -> None:
    target: dict[str, Any] = {
        "vendor": "segment",
        "space_id": SPACE,
        "token_env": "SEG_TOKEN",
        "base_url": base_url,
    }
    if rate is not None:
        target["rate_limit"] = {"requests": int(rate), "per": "second"}
    config = {"version": 1, "ledger": {"key_env": "BENCH_KEY"}, "targets": {"bench": target}}
    (root / "reconciler.yaml").write_text(yaml.safe_dump(config))
    specs = root / "specs"
    specs.mkdir(exist_ok=True)
    # a CSV source: what a large cleanup uses
    with (specs / "bench.csv").open("w") as out:
        out.write("user_id,type,value\n")
        for i in range(items):
            out.write(f"u_{i},email,user{i}@old.example\n")
    meta = {"name": "bench", "owner": "bench", "reason": "benchmark"}
    doc = {
        "apiVersion": "reconciler/v1",
        "kind": "Removal",
        "metadata": meta,
        "spec": {"target": "bench", "absent_csv": ["bench.csv"]},
    }
    (specs / "bench.yaml").write_text(yaml.safe_dump(doc))


def run(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = dict(os.environ, BENCH_KEY=KEY, SEG_TOKEN=TOKEN)
    started = time.perf_counter()
    done = subprocess.run([*reconcile(), *args], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise SystemExit(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed, done


def profiles(items: int, with_email: bool) -> dict[str, Any]:
    def one(i: int) -> dict[str, Any]:
        ids = [{"type": "user_id", "id": f"u_{i}"}]
        if with_email:
            ids.append({"type": "email", "id": f"user{i}@old.example"})
        return {"external_ids": ids}

    return {"segment": {"spaces": {SPACE: {"profiles": [one(i) for i in range(items)]}}}}


def ledger_of_an_apply(root: Path, items: int) -> float:
    """The ledger an apply of every planned action would leave (each done, removed)."""
    from reconciler.desired import Fingerprinter
    from reconciler.ledger.store import RunWriter, create_ledger
    from reconciler.ledger.writer import result_fields

    started = time.perf_counter()
    _, done = run(root, "plan", "--format", "json")
    actions = json.loads(done.stdout)["actions"]
    assert len(actions) == items, len(actions)
    ledger_dir = root / "state" / "ledger"
    create_ledger(ledger_dir, Fingerprinter.keyed(KEY.encode()))
    writer = RunWriter(
        ledger_dir, "benchsetup01", {"operation": "apply", "who": "bench"}, key=KEY.encode()
    )
    for a in actions:
        writer.intent(a["fingerprint"], a["target"], "d" * 64)
        fields = result_fields(a["fingerprint"], a["target"], "done", 200, None, None)
        fields["evidence"] = "removed"
        writer.results([fields])
    writer.close(removed=len(actions))
    return time.perf_counter() - started


def by_tenth(log: list[dict[str, Any]]) -> list[float]:
    """The read rate in each tenth of the run (by request count)."""
    times = sorted(e["time"] for e in log)
    step = max(2, len(times) // 10)
    return [
        round((step - 1) / (times[i + step - 1] - times[i]), 1)
        for i in range(0, len(times) - step + 1, step)
        if times[i + step - 1] > times[i]
    ]


def steady_rate(log: list[dict[str, Any]]) -> float:
    times = sorted(e["time"] for e in log)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def bench(items: int, naive_items: int, setup: str) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if setup == "apply":
            with Sandbox(
                SandboxOptions(port=port, seed=profiles(items, with_email=True)),
                in_subprocess=True,
            ) as sb:
                write_project(root, sb.urls["segment"], items, rate=None)
                setup_s, _ = run(root, "apply", "--auto-approve", "--parallelism", "16")
        else:
            write_project(root, f"http://127.0.0.1:{port}/segment", items, rate=None)
            setup_s = ledger_of_an_apply(root, items)
        # measured: the reads, at the documented limit and 50 ms latency
        slow = SandboxOptions(
            port=port,
            seed=profiles(items + naive_items, with_email=False),
            latency_ms=LATENCY_MS,
            max_logged_requests=items + naive_items + 1000,
        )
        with Sandbox(slow, in_subprocess=True) as sb:
            write_project(root, sb.urls["segment"], items, rate=None)
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            before = usage.ru_maxrss
            cpu_before = usage.ru_utime + usage.ru_stime
            elapsed, done = run(
                root, "refresh", "--min-age", "0", "--parallelism", "16", "--format", "json"
            )
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            peak_kb = usage.ru_maxrss
            cpu = usage.ru_utime + usage.ru_stime - cpu_before
            report = json.loads(done.stdout)
            log = sb.control.requests("segment")
            reads = [e for e in log if e["method"] == "GET"]
            rate = steady_rate(reads)
            half = sorted(e["time"] for e in reads)[len(reads) // 2]
            throttled_late = sum(1 for e in reads if e["time"] >= half and e["status"] == 429)
            # the naive loop: one blocking read after another, on other profiles
            auth = base64.b64encode(f"{TOKEN}:".encode()).decode()
            with httpx.Client(base_url=sb.urls["segment"]) as client:
                started = time.perf_counter()
                for i in range(items, items + naive_items):
                    path = f"/v1/spaces/{SPACE}/collections/users/profiles/user_id:u_{i}"
                    response = client.get(
                        f"{path}/external_ids", headers={"Authorization": f"Basic {auth}"}
                    )
                    response.raise_for_status()
                naive = naive_items / (time.perf_counter() - started)
    return {
        "items": items,
        "setup": setup,
        "setup_s": round(setup_s, 1),
        "refresh_s": round(elapsed, 1),
        "summary": report["summary"],
        "reads": len(reads),
        "steady_reads_per_s": round(rate, 2),
        "reads_per_s_by_tenth": by_tenth(reads),
        "limit_per_s": LIMIT,
        "fraction_of_limit": round(rate / LIMIT, 4),
        "naive_reads_per_s": round(naive, 2),
        "speedup_vs_naive": round(rate / naive, 2),
        "throttled": sum(1 for e in reads if e["status"] == 429),
        "throttled_second_half": throttled_late,
        "refresh_cpu_ms_per_read": round(1000 * cpu / max(1, items), 2),
        "refresh_peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--naive-items", type=int, default=200)
    parser.add_argument("--setup", choices=["ledger", "apply"], default="ledger")
    args = parser.parse_args()
    print(json.dumps(bench(args.items, args.naive_items, args.setup), indent=2))


if __name__ == "__main__":
    main()

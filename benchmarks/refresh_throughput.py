"""Refresh throughput against the sandbox, as a fraction of Segment's read limit, versus a
naive loop, in the same run.

    python benchmarks/refresh_throughput.py [--items 100000] [--naive-items 200]

Setup (not measured): the sandbox runs with its rate limits raised (`rate_scale`) and no
latency, and `reconcile apply` removes one email from each of ITEMS Segment profiles,
so the ledger holds ITEMS done items. Then the same port serves a sandbox with the
documented limit (Profile API: 100 requests/s per space, FACTS.md §4) and 50 ms of
latency per answer, and `reconcile refresh --min-age 0` reads every item back as a
subprocess. The sandbox's request log gives the steady-state read rate (first to last
read), reported as a fraction of the limit; the naive baseline is one blocking Profile
API read after another. Also: the refresh's peak RSS, and 429s (target: none at steady
state, >= 95% of the limit).
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


def steady_rate(log: list[dict[str, Any]]) -> float:
    times = sorted(e["time"] for e in log)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def bench(items: int, naive_items: int) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # setup: the deletions, fast (limits raised, no latency)
        fast = SandboxOptions(
            port=port,
            seed=profiles(items, with_email=True),
            rate_scale=50.0,
            max_logged_requests=10,
        )
        with Sandbox(fast, in_subprocess=True) as sb:
            write_project(root, sb.urls["segment"], items, rate=LIMIT * 50)
            setup_s, _ = run(root, "apply", "--auto-approve", "--parallelism", "32")
        # measured: the reads, at the documented limit and 50 ms latency
        slow = SandboxOptions(
            port=port,
            seed=profiles(items + naive_items, with_email=False),
            latency_ms=LATENCY_MS,
            max_logged_requests=items + naive_items + 1000,
        )
        with Sandbox(slow, in_subprocess=True) as sb:
            write_project(root, sb.urls["segment"], items, rate=None)
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            elapsed, done = run(
                root, "refresh", "--min-age", "0", "--parallelism", "16", "--format", "json"
            )
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
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
        "setup_apply_s": round(setup_s, 1),
        "refresh_s": round(elapsed, 1),
        "summary": report["summary"],
        "reads": len(reads),
        "steady_reads_per_s": round(rate, 2),
        "limit_per_s": LIMIT,
        "fraction_of_limit": round(rate / LIMIT, 4),
        "naive_reads_per_s": round(naive, 2),
        "speedup_vs_naive": round(rate / naive, 2),
        "throttled": sum(1 for e in reads if e["status"] == 429),
        "throttled_second_half": throttled_late,
        "refresh_peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--naive-items", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(bench(args.items, args.naive_items), indent=2))


if __name__ == "__main__":
    main()

"""Apply throughput against the sandbox, versus a naive loop, in the same run.

    python benchmarks/apply_throughput.py [--segment-items 1500] [--naive-items 200]

For each vendor: the sandbox runs in its own process with 50 ms of latency per answer
and the vendor's documented limit (Braze and Insider scaled down with --rate-scale so a
run takes under a minute, the target's `rate_limit` set to match). `reconcile apply
--auto-approve` runs as a subprocess; the sandbox's request log gives the steady-state
request rate (first to last request), reported as a fraction of the limit. The naive
baseline is what the vendor's FAQ suggests: one blocking httpx request after another.
Targets: Segment >= 95% of its limit and >= 4x the naive loop; Braze and Insider >= 90%
of theirs with full batches. `shared`: Segment's budget shared with a second client
sending reads at 30% of it; AIMD should settle under what is left with no 429 at steady
state (the second half of the run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from reconciler.sandbox.context import SandboxOptions
from reconciler.sandbox.server import Sandbox

LATENCY_MS = 50.0
SPACE = "spa_bench"
SECRETS = {
    "SEG_TOKEN": "bench-segment-token",
    "BRAZE_KEY": "bench-braze-key",
    "INS_TOKEN": "bench-insider-token",
}


def reconcile() -> list[str]:
    exe = Path(sys.executable).with_name("reconcile")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "reconciler"]


def write_project(root: Path, target: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    (root / "specs").mkdir(parents=True)
    config = {"version": 1, "ledger": {"key_env": "BENCH_KEY"}, "targets": {"bench": target}}
    (root / "reconciler.yaml").write_text(yaml.safe_dump(config))
    (root / "specs" / "bench.yaml").write_text(yaml.safe_dump_all(docs))


def manifest(spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": "bench", "owner": "bench", "reason": "benchmark"}
    return {"apiVersion": "reconciler/v1", "kind": "Removal", "metadata": meta, "spec": spec}


def run_apply(root: Path) -> float:
    env = dict(os.environ, BENCH_KEY="bench-ledger-key", **SECRETS)
    started = time.perf_counter()
    done = subprocess.run(
        [*reconcile(), "apply", "--auto-approve", "--parallelism", "16"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def steady_rate(log: list[dict[str, Any]]) -> float:
    times = sorted(e["time"] for e in log)
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def throttled(log: list[dict[str, Any]]) -> int:
    return sum(1 for e in log if e["status"] == 429)


def not_ok(log: list[dict[str, Any]]) -> int:
    return sum(1 for e in log if not 200 <= e["status"] < 300)


def bench_segment(items: int, naive_items: int) -> dict[str, float]:
    profiles = [
        {
            "external_ids": [
                {"type": "user_id", "id": f"u_{i}"},
                {"type": "email", "id": f"user{i}@old.example"},
            ]
        }
        for i in range(items + naive_items)
    ]
    seed = {"segment": {"spaces": {SPACE: {"profiles": profiles}}}}
    options = SandboxOptions(seed=seed, latency_ms=LATENCY_MS)
    with Sandbox(options, in_subprocess=True) as sb, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = {
            "vendor": "segment",
            "space_id": SPACE,
            "token_env": "SEG_TOKEN",
            "base_url": sb.urls["segment"],
        }
        absent = [
            {
                "profile": {"user_id": f"u_{i}"},
                "identifiers": [{"type": "email", "value": f"user{i}@old.example"}],
            }
            for i in range(items)
        ]
        write_project(root, target, [manifest({"target": "bench", "absent": absent})])
        elapsed = run_apply(root)
        log = sb.control.requests("segment")
        rate = steady_rate(log)
        # the naive loop: one blocking request after another, on other profiles
        auth = base64.b64encode(f"{SECRETS['SEG_TOKEN']}:".encode()).decode()
        sb.control.clear_requests()
        with httpx.Client(base_url=sb.urls["segment"]) as client:
            started = time.perf_counter()
            for i in range(items, items + naive_items):
                path = (
                    f"/v1/spaces/{SPACE}/collections/users/profiles/user_id:u_{i}"
                    "/external_ids/delete"
                )
                body = {"delete_external_ids": [{"id": f"user{i}@old.example", "type": "email"}]}
                response = client.post(path, json=body, headers={"Authorization": f"Basic {auth}"})
                response.raise_for_status()
            naive = naive_items / (time.perf_counter() - started)
    return {
        "items": items,
        "apply_items_per_s": items / elapsed,
        "steady_requests_per_s": rate,
        "limit_per_s": 100.0,
        "fraction_of_limit": rate / 100.0,
        "naive_items_per_s": naive,
        "speedup_vs_naive": rate / naive,
        "throttled": throttled(log),
        "non_2xx": not_ok(log),
    }


def bench_shared_budget(items: int, share: float) -> dict[str, float]:
    """Segment's 100/s per space shared with another client sending at `share` of it (a
    second job reading profiles): AIMD must settle under what is left, without 429s."""
    profiles = [
        {
            "external_ids": [
                {"type": "user_id", "id": f"u_{i}"},
                {"type": "email", "id": f"user{i}@old.example"},
            ]
        }
        for i in range(items)
    ]
    seed = {"segment": {"spaces": {SPACE: {"profiles": profiles}}}}
    options = SandboxOptions(seed=seed, latency_ms=LATENCY_MS)
    stop = threading.Event()
    auth = base64.b64encode(f"{SECRETS['SEG_TOKEN']}:".encode()).decode()

    def other_job(base_url: str) -> None:
        """Reads at a fixed rate, each sent without waiting for the one before (a job
        with its own concurrency), so the 50 ms latency does not slow it down."""

        async def run() -> None:
            interval = 1.0 / (100.0 * share)
            headers = {"Authorization": f"Basic {auth}"}
            async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
                tasks = set()
                next_at = time.perf_counter()
                i = 0
                while not stop.is_set():
                    path = f"/v1/spaces/{SPACE}/collections/users/profiles/user_id:u_{i % items}"
                    task = asyncio.create_task(client.get(f"{path}/external_ids"))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    i += 1
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(run())

    with Sandbox(options, in_subprocess=True) as sb, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = {
            "vendor": "segment",
            "space_id": SPACE,
            "token_env": "SEG_TOKEN",
            "base_url": sb.urls["segment"],
        }
        absent = [
            {
                "profile": {"user_id": f"u_{i}"},
                "identifiers": [{"type": "email", "value": f"user{i}@old.example"}],
            }
            for i in range(items)
        ]
        write_project(root, target, [manifest({"target": "bench", "absent": absent})])
        other = threading.Thread(target=other_job, args=(sb.urls["segment"],), daemon=True)
        other.start()
        time.sleep(1.0)  # the other job is already running when apply starts
        run_apply(root)
        stop.set()
        other.join()
        log = sb.control.requests("segment")
    ours = [e for e in log if e["method"] == "POST"]
    theirs = [e for e in log if e["method"] == "GET"]
    times = sorted(e["time"] for e in ours)
    half = times[len(times) // 2]
    steady = [e for e in ours if e["time"] >= half]
    return {
        "items": items,
        "other_job_share": share,
        "apply_steady_requests_per_s": steady_rate(steady),
        "left_for_apply_per_s": 100.0 * (1 - share),
        "fraction_of_what_is_left": steady_rate(steady) / (100.0 * (1 - share)),
        "apply_429s": throttled(ours),
        "apply_429s_second_half": throttled(steady),
        "other_job_429s": throttled(theirs),
        "other_job_requests": len(theirs),
    }


def bench_braze(requests: int, scale: float) -> dict[str, float]:
    n = requests * 50
    users = [{"external_id": f"ext_{i}"} for i in range(n)]
    limit_per_min = round(20_000 * scale)
    options = SandboxOptions(
        seed={"braze": {"users": users}}, latency_ms=LATENCY_MS, rate_scale=scale
    )
    with Sandbox(options, in_subprocess=True) as sb, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = {
            "vendor": "braze",
            "base_url": sb.urls["braze"],
            "api_key_env": "BRAZE_KEY",
            "rate_limit": {"requests": limit_per_min, "per": "minute"},
        }
        spec = {
            "target": "bench",
            "delete_profiles": True,
            "absent": [{"profile": {"external_id": f"ext_{i}"}} for i in range(n)],
        }
        write_project(root, target, [manifest(spec)])
        elapsed = run_apply(root)
        log = sb.control.requests("braze")
    rate = steady_rate(log)
    return {
        "items": n,
        "apply_items_per_s": n / elapsed,
        "requests": len(log),
        "ids_per_request": n / max(len(log), 1),
        "steady_requests_per_s": rate,
        "limit_per_s": limit_per_min / 60,
        "fraction_of_limit": rate / (limit_per_min / 60),
        "throttled": throttled(log),
        "non_2xx": not_ok(log),
    }


def bench_insider(requests: int, scale: float) -> dict[str, float]:
    n = requests * 1000
    users = [
        {
            "identifiers": {"uuid": f"uu-{i}", "email": f"u{i}@example.com"},
            "attributes": {"name": "N"},
        }
        for i in range(n)
    ]
    limit_per_min = round(25_000 * scale)
    options = SandboxOptions(
        seed={"insider": {"users": users}}, latency_ms=LATENCY_MS, rate_scale=scale
    )
    with Sandbox(options, in_subprocess=True) as sb, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = {
            "vendor": "insider",
            "partner_name": "bench",
            "token_env": "INS_TOKEN",
            "base_url": sb.urls["insider"],
            "rate_limit": {"requests": limit_per_min, "per": "minute"},
        }
        absent = [{"profile": {"uuid": f"uu-{i}"}, "attributes": ["name"]} for i in range(n)]
        write_project(root, target, [manifest({"target": "bench", "absent": absent})])
        elapsed = run_apply(root)
        log = sb.control.requests("insider")
    rate = steady_rate(log)
    return {
        "items": n,
        "apply_items_per_s": n / elapsed,
        "requests": len(log),
        "users_per_request": n / max(len(log), 1),
        "steady_requests_per_s": rate,
        "limit_per_s": limit_per_min / 60,
        "fraction_of_limit": rate / (limit_per_min / 60),
        "throttled": throttled(log),
        "non_2xx": not_ok(log),
    }


def show(name: str, figures: dict[str, float]) -> None:
    print(f"\n{name}")
    for key, value in figures.items():
        print(f"  {key:<24} {value:,.3f}" if isinstance(value, float) else f"  {key:<24} {value:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segment-items", type=int, default=1500)
    parser.add_argument("--naive-items", type=int, default=200)
    parser.add_argument("--braze-requests", type=int, default=40)
    parser.add_argument("--braze-scale", type=float, default=0.006)
    parser.add_argument("--insider-requests", type=int, default=20)
    parser.add_argument("--insider-scale", type=float, default=0.002)
    parser.add_argument("--shared-items", type=int, default=3000)
    parser.add_argument("--shared-share", type=float, default=0.3)
    parser.add_argument("--only", choices=["segment", "shared", "braze", "insider"])
    args = parser.parse_args()
    if args.only in (None, "segment"):
        show(
            "segment (documented 100 requests/s per space)",
            bench_segment(args.segment_items, args.naive_items),
        )
    if args.only in (None, "shared"):
        show(
            f"segment, budget shared with a job sending at {args.shared_share:.0%} of it",
            bench_shared_budget(args.shared_items, args.shared_share),
        )
    if args.only in (None, "braze"):
        show(
            f"braze (20,000/min x {args.braze_scale})",
            bench_braze(args.braze_requests, args.braze_scale),
        )
    if args.only in (None, "insider"):
        show(
            f"insider (25,000/min x {args.insider_scale})",
            bench_insider(args.insider_requests, args.insider_scale),
        )


if __name__ == "__main__":
    main()

"""Requests per second the vendor sandbox serves on loopback (latency 0).

Run: ``python benchmarks/sandbox_throughput.py [--requests N] [--concurrency C]``

The sandbox runs in its own process (as ``reconcile sandbox`` does), so the load
generator does not share its interpreter. The mix cycles through one request per
vendor endpoint (reads and deletes, including deletes that are refused), with rate
limits scaled up so that nothing is throttled. Bounded: at most N requests, 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from pathlib import Path

import aiohttp

from reconciler.sandbox import Sandbox, SandboxOptions

SEED = Path(__file__).resolve().parents[1] / "reconciler" / "sandbox" / "example_seed.yaml"
STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2a1"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request_mix(urls: dict[str, str]) -> list[tuple[str, str, dict[str, str], object]]:
    segment = f"{urls['segment']}/v1/spaces/spa_9aXb2/collections/users/profiles/user_id:u_1001"
    twilio = f"{urls['twilio_memory']}/v1/Stores/{STORE}/Profiles/{PROFILE}/Identifiers"
    seg_auth = {"Authorization": basic("sgp_bench", "")}
    tw_auth = {"Authorization": basic("AC" + "0" * 32, "token")}
    insider = {"X-PARTNER-NAME": "mybrand", "X-REQUEST-TOKEN": "t"}
    braze = {"Authorization": "Bearer bench"}
    return [
        ("GET", f"{segment}/external_ids", seg_auth, None),
        (
            "POST",
            f"{segment}/external_ids/delete",
            seg_auth,
            {"delete_external_ids": [{"type": "email", "id": "absent@example.com"}]},
        ),
        ("POST", f"{urls['braze']}/users/delete", braze, {"external_ids": ["absent"]}),
        ("GET", twilio, tw_auth, None),
        ("GET", f"{twilio}/email", tw_auth, None),
        (
            "POST",
            f"{urls['insider']}/api/user/v1/profile",
            insider,
            {"insider_id": "iid_jane", "attributes": ["email"]},
        ),
        (
            "POST",
            f"{urls['insider']}/api/user/v1/attribute/delete",
            insider,
            {"users": [{"insider_id": "iid_absent", "whole": ["name"]}]},
        ),
    ]


async def drive(
    urls: dict[str, str], total: int, concurrency: int
) -> tuple[int, float, dict[int, int]]:
    mix = request_mix(urls)
    statuses: dict[int, int] = {}
    counter = iter(range(total))
    deadline = time.perf_counter() + 60

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in counter:
            if time.perf_counter() > deadline:
                return
            method, url, headers, body = mix[i % len(mix)]
            async with session.request(method, url, headers=headers, json=body) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return sum(statuses.values()), elapsed, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    options = SandboxOptions(seed=SEED, rate_scale=1000.0, max_logged_requests=10_000)
    with Sandbox(options, in_subprocess=True) as sandbox:
        asyncio.run(drive(sandbox.urls, 500, args.concurrency))  # warm-up
        done, elapsed, statuses = asyncio.run(drive(sandbox.urls, args.requests, args.concurrency))
    print(
        f"{done} requests in {elapsed:.2f} s with {args.concurrency} connections: "
        f"{done / elapsed:,.0f} req/s (statuses {dict(sorted(statuses.items()))})"
    )


if __name__ == "__main__":
    main()

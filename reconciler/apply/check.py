"""`reconcile check`: each target's preflight on its own, nothing deleted.

The same harmless reads apply sends before a target's first delete, so a user (or CI,
before merging) can prove host, account, credentials and permission for every target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from reconciler.apply.client import Breaker, RetryPolicy, VendorClient
from reconciler.apply.engine import Redactor, clean, preflight
from reconciler.apply.limits import READ, scope_and_rate
from reconciler.apply.pacing import Pacer
from reconciler.config import Target
from reconciler.masking import Masker
from reconciler.vendors.registry import requests_for

CHECK_POLICY = RetryPolicy(timeout=10.0)  # the preflight reads use PREFLIGHT_POLICY


@dataclass(frozen=True)
class CheckResult:
    target: str
    vendor: str
    host: str
    ok: bool
    problem: str | None = None
    fix: str | None = None


async def _check(
    target: Target,
    secrets: dict[str, str],
    policy: RetryPolicy,
    transport: Callable[[], httpx.AsyncBaseTransport] | None,
) -> CheckResult:
    builder = requests_for(target.vendor)
    headers = builder.auth_headers(target, secrets)
    encoded = [v.split()[-1] for k, v in headers.items() if k.lower() == "authorization"]
    redact = Redactor([*secrets.values(), *encoded])
    _, rate = scope_and_rate(target, READ)
    client = VendorClient(
        target.base_url,
        headers,
        Pacer(rate),
        policy,
        transport=transport() if transport else None,
        breaker=Breaker(),
    )
    host = urlsplit(target.base_url).netloc
    try:
        result = await preflight(builder, target, client)
    finally:
        await client.aclose()
    masker = Masker()
    return CheckResult(
        target.name,
        target.vendor,
        host,
        result.ok,
        clean(result.problem, masker, redact),
        clean(result.fix, masker, redact),
    )


def check_targets(
    targets: Sequence[Target],
    secrets: dict[str, dict[str, str]],
    policy: RetryPolicy = CHECK_POLICY,
    transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
) -> list[CheckResult]:
    """Every target's preflight, concurrently; results in the order of `targets`."""

    async def go() -> list[CheckResult]:
        return list(
            await asyncio.gather(
                *(_check(t, secrets.get(t.name, {}), policy, transport) for t in targets)
            )
        )

    return asyncio.run(go())

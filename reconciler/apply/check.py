"""`reconcile check`: each target's preflight on its own, nothing deleted.

The same harmless reads apply sends before a target's first delete, so a user (or CI,
before merging) can prove host, account, credentials and permission for every target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.apply.client import RetryPolicy, Transport
from reconciler.apply.session import Pacers, TargetSession, clean
from reconciler.masking import Masker
from reconciler.target import Target

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
    transport: Transport | None,
) -> CheckResult:
    session = TargetSession(target, secrets, Pacers(), policy, transport, 4, {})
    try:
        result = await session.preflight()
    finally:
        await session.close()
    masker = Masker()
    return CheckResult(
        target.name,
        target.vendor,
        urlsplit(target.base_url).netloc,
        result.ok,
        clean(result.problem, masker, session.redact),
        clean(result.fix, masker, session.redact),
    )


def check_targets(
    targets: Sequence[Target],
    secrets: dict[str, dict[str, str]],
    policy: RetryPolicy = CHECK_POLICY,
    transport: Transport | None = None,
) -> list[CheckResult]:
    """Every target's preflight, concurrently; results in the order of `targets`."""

    async def go() -> list[CheckResult]:
        return list(
            await asyncio.gather(
                *(_check(t, secrets.get(t.name, {}), policy, transport) for t in targets)
            )
        )

    return asyncio.run(go())

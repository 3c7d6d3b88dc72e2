"""What every handler shares: options, state, limiter, faults, request log, credentials."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from reconciler.sandbox.credentials import Credentials
from reconciler.sandbox.faults import FaultInjector, FaultProfile
from reconciler.sandbox.ratelimit import Decision, RateLimiter
from reconciler.sandbox.requestlog import LoggedRequest, RequestLog
from reconciler.sandbox.seed import load_seed_file, state_from_seed
from reconciler.sandbox.state import VENDORS, SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SandboxOptions:
    """How a sandbox runs (the ``reconcile sandbox`` flags)."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    seed: str | Path | dict[str, Any] | None = None
    seed_random: int | None = None
    credentials: str | Path | None = None
    rate_scale: float = 1.0
    twilio_removal_delay: float = 1.0  # seconds before an accepted Twilio DELETE takes effect
    braze_removal_delay: float = 1.0  # seconds before a queued Braze deletion takes effect
    max_logged_requests: int = 100_000


@dataclass(frozen=True)
class VendorSpec:
    """One emulated vendor: its routes, how it words the faults the sandbox injects, and
    what it holds about the profile a request names (for the echo fault)."""

    name: str
    routes: list[tuple[str, str, Handler]]  # (method, vendor path, handler)
    unavailable: Callable[[], web.Response]
    throttled: Callable[[Decision | None], web.Response]
    # The vendor's error body for (status, message, message parts): the echo fault's shape.
    error: Callable[[int, str, list[str]], Any]
    # Every identifier the state holds for the profiles or users a request names
    # (from its path match and parsed JSON body, None when it has none).
    related: Callable[[SandboxState, web.Request, Any], list[str]]


@dataclass
class SandboxContext:
    """The live sandbox: state plus the machinery around it."""

    options: SandboxOptions
    seed_data: dict[str, Any] = field(default_factory=dict)
    state: SandboxState = field(default_factory=SandboxState)
    credentials: Credentials = field(default_factory=Credentials)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: FaultInjector = field(
        default_factory=lambda: FaultInjector(list(VENDORS), None, FaultProfile())
    )
    log: RequestLog = field(default_factory=RequestLog)
    clock: Callable[[], float] = time.time

    @classmethod
    def create(cls, options: SandboxOptions) -> SandboxContext:
        seed = options.seed
        if seed is None:
            seed_data: dict[str, Any] = {}
            state = SandboxState()
        elif isinstance(seed, dict):
            seed_data, state = seed, state_from_seed(seed)
        else:
            seed_data, state = load_seed_file(seed)
        default_faults = FaultProfile().updated(
            {"latency_ms": options.latency_ms, "fail_rate": options.fail_rate}
        )
        return cls(
            options=options,
            seed_data=seed_data,
            state=state,
            credentials=(
                Credentials.load(options.credentials) if options.credentials else Credentials()
            ),
            limiter=RateLimiter(options.rate_scale),
            faults=FaultInjector(list(VENDORS), options.seed_random, default_faults),
            log=RequestLog(options.max_logged_requests),
        )

    def reseed(self, seed_data: dict[str, Any] | None = None) -> None:
        """Back to the seed (or a new one): state, counters, faults and log. A new seed
        that is malformed raises SeedError and changes nothing."""
        state = state_from_seed(self.seed_data if seed_data is None else seed_data)
        if seed_data is not None:
            self.seed_data = seed_data
        self.state = state
        self.limiter.reset()
        self.faults.reset()
        self.log.clear()


CONTEXT = web.AppKey("sandbox_context", SandboxContext)
# The log entry of the request being handled: middleware and handler run in one task.
CURRENT_ENTRY: ContextVar[LoggedRequest] = ContextVar("sandbox_log_entry")


def context_of(request: web.Request) -> SandboxContext:
    return request.app[CONTEXT]


def entry_of(request: web.Request) -> LoggedRequest:
    """The log entry of ``request`` (set by the vendor middleware)."""
    del request  # kept in the signature so handlers read naturally
    return CURRENT_ENTRY.get()

"""The one HTTP policy every adapter goes through: pacing, timeouts, retries, redaction.

httpx's AsyncClient: one connection pool per target, reused across requests, many
requests in flight so a 50 ms round trip does not cap throughput below a vendor's limit.
Retries on 429, 500, 502, 503, 504, timeouts and dropped connections, with exponential
backoff and full jitter, honouring Retry-After and X-RateLimit-Reset, capped in attempts
and in total time. Hand-written (about 40 lines) rather than tenacity: the wait depends on
the vendor's answer headers and a 429 must also pause the shared pacer, which would take
as much code around tenacity as without it.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from reconciler import __version__
from reconciler.apply.pacing import Pacer
from reconciler.evidence import Answer
from reconciler.vendors.api import VendorRequest

Transport = Callable[[], httpx.AsyncBaseTransport]
"""Makes the transport a target's client sends through: tests and the conformance kit pass
an httpx.MockTransport; None everywhere else (real HTTP)."""

RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_seconds: float = 300.0
    base: float = 0.5
    cap: float = 30.0
    timeout: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        return rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


# A preflight is a handful of reads: a few quick attempts, so a target that cannot be
# reached is known in seconds.
PREFLIGHT_POLICY = RetryPolicy(max_attempts=6, max_seconds=30.0, base=0.5, cap=5.0, timeout=10.0)


@dataclass(frozen=True)
class Sent:
    """The final answer to a request, or why there is none (retries exhausted)."""

    answer: Answer | None
    attempts: int
    error: str | None = None
    # no usable answer, and the request may have been acted on (timeout, dropped
    # connection, 5xx): what happened is unknown
    maybe_acted: bool = False
    # why the whole target must stop (DNS or TLS failure, the circuit breaker opened);
    # the request was not acted on unless maybe_acted says so
    stop: str | None = None


class Breaker:
    """A circuit breaker for one target: after `threshold` consecutive attempts that
    failed to connect, timed out or got a 5xx, it opens, and no more requests go out.

    An apply against a vendor that cannot be reached ends in seconds, not hours; the
    items not sent stay pending for the next apply.
    """

    DEFAULT_THRESHOLD = 10

    def __init__(self, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.threshold = max(1, threshold)
        self.failures = 0
        self.reason: str | None = None

    @property
    def open(self) -> bool:
        return self.reason is not None

    def success(self) -> None:
        if self.reason is None:
            self.failures = 0

    def failure(self, what: str) -> None:
        self.failures += 1
        if self.failures >= self.threshold and self.reason is None:
            self.reason = (
                f"{self.failures} consecutive attempts failed (last: {what}): stopped sending "
                "to this target (breaker.consecutive_failures in reconciler.yaml sets the limit)"
            )

    def trip(self, why: str) -> None:
        if self.reason is None:
            self.reason = why


def connection_stop(exc: BaseException) -> str | None:
    """Why a connection error is about the target and not a passing fault: a name that
    does not resolve, a TLS handshake or certificate that fails. None otherwise."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror):
            return "the host name does not resolve (DNS): check base_url"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "the TLS certificate does not verify: check base_url"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed: check base_url"
        cause = cause.__cause__ or cause.__context__
    return None


def wait_hint(answer: Answer, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the vendor asked us to wait: Retry-After, else X-RateLimit-Reset."""
    retry_after = answer.header("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now())
            except (TypeError, ValueError):
                pass
    reset = answer.header("x-ratelimit-reset")
    if reset and answer.status == 429:
        try:
            return max(0.0, float(reset) - now())
        except ValueError:
            return None
    return None


def departure_gate(pacer: Pacer) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """httpcore's `trace` callback: each request waits at `pacer.depart()` just before
    its headers are written (a transport that does not trace, as the tests' do, is paced
    on release alone). Behind an HTTPS proxy the tunnel's CONNECT is traced too: it is
    not a request to the vendor and does not wait."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith(".send_request_headers.started"):
            request = info.get("request")
            if getattr(request, "method", None) != b"CONNECT":
                await pacer.depart()

    return trace


def _answer(response: httpx.Response) -> Answer:
    headers = {k.lower(): v for k, v in response.headers.items()}
    text = response.text
    if not text:
        return Answer(response.status_code, headers, None, json=False)
    try:
        body: object = json.loads(text)
    except ValueError:
        return Answer(response.status_code, headers, text, json=False)
    return Answer(response.status_code, headers, body)


class VendorClient:
    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        pacer: Pacer,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 32,
        breaker: Breaker | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.pacer = pacer
        self.breaker = breaker or Breaker()
        self._rng = rng or random.Random()
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"User-Agent": f"reconciler/{__version__}", **headers},
            timeout=httpx.Timeout(self.policy.timeout, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections),
            follow_redirects=False,
            transport=transport,
        )
        # HTTP/1.1 only (httpx's default): the departure gate waits inside httpcore's
        # send, before any byte is written; under HTTP/2 it would wait after its stream
        # took an id, and streams could go out of order
        self._extensions = {"trace": departure_gate(pacer)}

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self, request: VendorRequest, paced: bool = False, policy: RetryPolicy | None = None
    ) -> Sent:
        """The final answer; `paced`: the caller already took the first attempt's slot;
        `policy` replaces the client's retry policy for this request."""
        policy = policy or self.policy
        started = time.monotonic()
        content = None
        headers = {}
        if request.body is not None:
            content = json.dumps(request.body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        last_error = ""
        last: Answer | None = None  # the last answer, when the last attempt got one
        breaker = self.breaker
        for attempt in range(1, policy.max_attempts + 1):
            if breaker.open:
                return Sent(last, attempt - 1, breaker.reason, stop=breaker.reason)
            if attempt > 1 or not paced:
                await self.pacer.acquire()
            try:
                response = await self._client.request(
                    request.method,
                    request.path,
                    params=request.query or None,
                    content=content,
                    headers=headers,
                    extensions=self._extensions,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # never reached the vendor: safe to send again, whatever the request
                why = connection_stop(exc)
                if why is not None:
                    breaker.trip(why)
                    return Sent(None, attempt, why, stop=why)
                last, last_error = None, f"could not connect ({type(exc).__name__})"
                breaker.failure(last_error)
                wait = policy.backoff(attempt, self._rng)
            except httpx.TimeoutException:
                last, last_error = None, f"no answer within {policy.timeout:g}s"
                breaker.failure(last_error)
                if not request.idempotent:
                    return Sent(None, attempt, last_error, maybe_acted=True, stop=breaker.reason)
                wait = policy.backoff(attempt, self._rng)
            except httpx.HTTPError as exc:
                # dropped connections, undecodable answers: the class name only, messages
                # can carry URLs and we print nothing raw
                last, last_error = None, f"no usable answer ({type(exc).__name__})"
                breaker.failure(last_error)
                if not request.idempotent:
                    return Sent(None, attempt, last_error, maybe_acted=True, stop=breaker.reason)
                wait = policy.backoff(attempt, self._rng)
            else:
                answer = _answer(response)
                status = answer.status
                if status >= 500:
                    breaker.failure(f"HTTP {status}")
                else:
                    breaker.success()
                if not request.idempotent and not (200 <= status < 300 or 400 <= status < 500):
                    # Only a 4xx (429 included) shows the vendor refused without acting; a
                    # 5xx or 3xx may come after it acted (a proxy, a timeout inside).
                    return Sent(
                        answer, attempt, f"HTTP {status}", maybe_acted=True, stop=breaker.reason
                    )
                if status not in RETRYABLE:
                    return Sent(answer, attempt)
                last, last_error = answer, f"HTTP {status}"
                hint = wait_hint(answer)
                wait = hint if hint is not None else policy.backoff(attempt, self._rng)
                if answer.status == 429:
                    self.pacer.slow_down(wait)
            elapsed = time.monotonic() - started
            if breaker.open:
                return Sent(last, attempt, breaker.reason, stop=breaker.reason)
            if attempt == policy.max_attempts or elapsed + wait > policy.max_seconds:
                return Sent(last, attempt, f"gave up after {attempt} attempts: {last_error}")
            await asyncio.sleep(wait)
        return Sent(None, policy.max_attempts, last_error)  # pragma: no cover

"""One target's connection to its vendor, shared by apply, check and refresh: its
clients (one per kind of request, each paced in its rate scope), its circuit breaker,
what its preflight proved, and the cleaning of the vendor's words before they are stored
or shown."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import httpx

from reconciler.apply.client import PREFLIGHT_POLICY, Breaker, RetryPolicy, VendorClient
from reconciler.apply.pacing import Pacer
from reconciler.evidence import Answer
from reconciler.masking import Masker, scrub
from reconciler.rates import scope_and_rate
from reconciler.target import Target
from reconciler.vendors.api import Preflight, RequestBuilder
from reconciler.vendors.registry import requests_for

MAX_MESSAGE = 500


class Redactor:
    """Removes secret values from any text before it is stored or shown."""

    # Shorter "secrets" are not secrets anyone uses, and replacing them would shred
    # every message they occur in.
    MIN_LENGTH = 4

    def __init__(self, secrets: Sequence[str]) -> None:
        found = {s for s in secrets if len(s) >= self.MIN_LENGTH}
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def clean(text: str | None, masker: Masker, redact: Redactor) -> str | None:
    """A vendor's words as we may store and show them: values masked, secrets removed,
    then cut to a readable length (cutting first would hide values)."""
    if not text:
        return None
    # the request's own values in every spelling, then secrets, then anything else shaped
    # like personal data or an id (another format, another identifier of the profile)
    cleaned = scrub(redact(masker.text(text)) or "")
    return cleaned if len(cleaned) <= MAX_MESSAGE else cleaned[:MAX_MESSAGE] + "..."


_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_token(value: str | None, masker: Masker, redact: Redactor) -> str | None:
    """A vendor's request id as we may store it (support cases quote it), or None: only a
    plain token (letters, digits, . _ : -; at most 128) that holds no value of the request,
    no secret and nothing shaped like a phone number. Anything else is not a request id,
    whatever header it came in."""
    if not value or not _REQUEST_ID.fullmatch(value):
        return None
    if masker.text(value) != value or redact(value) != value or scrub(value, ids=False) != value:
        return None
    return value


class Pacers:
    """One pacer per rate scope, shared by every target and kind of request in it."""

    def __init__(self) -> None:
        self._pacers: dict[Hashable, Pacer] = {}

    def __call__(self, target: Target, kind: str) -> Pacer:
        scope, rate = scope_and_rate(target, kind)
        pacer = self._pacers.get(scope)
        if pacer is None:
            pacer = self._pacers[scope] = Pacer(rate)
        return pacer


class TargetSession:
    """One target's clients, breaker and preflight facts for one run."""

    def __init__(
        self,
        target: Target,
        secrets: dict[str, str],
        pacers: Pacers,
        policy: RetryPolicy,
        transport: Callable[[], httpx.AsyncBaseTransport] | None,
        max_connections: int,
        stopped: dict[str, str],
    ) -> None:
        self.target = target
        self.builder: RequestBuilder = requests_for(target.vendor)
        self.headers = self.builder.auth_headers(target, secrets)
        # the Authorization header's own form too: Basic base64 is the secret, encoded
        encoded = [v.split()[-1] for k, v in self.headers.items() if k.lower() == "authorization"]
        self.redact = Redactor([*secrets.values(), *encoded])
        configured = target.settings.get("breaker") or {}
        self.breaker = Breaker(configured.get("consecutive_failures", Breaker.DEFAULT_THRESHOLD))
        self.facts: dict[str, Any] = {}
        self._pacers = pacers
        self._policy = policy
        self._transport = transport
        self._max_connections = max_connections
        self._clients: dict[str, VendorClient] = {}
        self._stopped = stopped  # the run's {target: why}, shared by its sessions

    def client(self, kind: str) -> VendorClient:
        if kind not in self._clients:
            self._clients[kind] = VendorClient(
                self.target.base_url,
                self.headers,
                self._pacers(self.target, kind),
                self._policy,
                transport=self._transport() if self._transport else None,
                max_connections=self._max_connections,
                breaker=self.breaker,
            )
        return self._clients[kind]

    @property
    def stopped(self) -> bool:
        return self.target.name in self._stopped

    def stop(self, why: str) -> None:
        self._stopped.setdefault(self.target.name, why)

    def check_breaker(self) -> bool:
        """True (and the target stopped) when the circuit breaker has opened."""
        if self.breaker.open:
            self.stop(self.breaker.reason or "circuit breaker open")
        return self.stopped

    async def preflight(self) -> Preflight:
        """Send the preflight reads in order (stopping at the first that fails) and read
        what they prove; on success its facts are kept for reading answers."""
        builder = self.builder
        reads = builder.preflight(self.target)
        answers: list[Answer | None] = []
        for request in reads:
            sent = await self.client("read").send(request, policy=PREFLIGHT_POLICY)
            if sent.error is not None and sent.answer is not None:
                # retries ran out on 429s or 5xx: the vendor is there, but not answering
                return Preflight(
                    f"{builder.vendor_label} kept answering HTTP {sent.answer.status} "
                    f"({sent.attempts} attempts)",
                    "the vendor is throttling or down: try again later",
                )
            answers.append(sent.answer if sent.error is None else None)
            if sent.answer is None or sent.answer.status >= 300:
                break  # the reads after it depend on this one succeeding
        answers += [None] * (len(reads) - len(answers))
        result = builder.preflight_result(self.target, answers) if reads else Preflight()
        if result.ok:
            self.facts = result.facts
        return result

    def preflight_problem(self, result: Preflight) -> str:
        why = f"preflight: {result.problem}" + (f" ({result.fix})" if result.fix else "")
        return clean(why, Masker(), self.redact) or "preflight failed"

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

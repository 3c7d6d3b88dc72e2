"""The vendor request an item becomes: built by pure functions, sent elsewhere."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote

from reconciler.config import Target
from reconciler.desired import Fingerprinter, Item, canonical_json
from reconciler.evidence import Answer, Outcome


@dataclass(frozen=True)
class VendorRequest:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # False when sending it twice can remove something else the second time (Braze by
    # email or phone: the prioritization picks the next matching user)
    idempotent: bool = True

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.query:
            out["query"] = self.query
        if self.body is not None:
            out["body"] = self.body
        return out

    def digest(self, key: Fingerprinter) -> str:
        """The request's canonical form through the ledger's fingerprint function:
        recorded in intents instead of the body. Keyed like fingerprints, because a plain
        hash of a request that holds an email could be tested against guesses."""
        return key.of_bytes(canonical_json(self.as_json()).encode("utf-8"))


Pair = tuple[str, Item]
"""(fingerprint, item): what batching moves around."""

# A user id no vendor holds: the preflight reads it to prove host, account and
# credentials without reading anyone's data.
PROBE_ID = "reconciler-preflight-probe-0000"


@dataclass(frozen=True)
class Preflight:
    """What a target's preflight reads proved: `problem` (why nothing may be sent) and
    `fix` (what the user should change), or facts later answers are read against
    (Twilio: the store's configured identifier types)."""

    problem: str | None = None
    fix: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None


class RequestBuilder(Protocol):
    vendor_label: str  # the vendor's name as users know it, for messages
    max_batch: int

    def batch_key(self, item: Item) -> Hashable | None:
        """Items with the same key may share one request; None: one request each."""
        ...

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest: ...

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        """Group items into requests within the vendor's limits."""
        ...

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        """Headers carrying the credentials, from {config key: secret value}."""
        ...

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        """One outcome per item, in order, from the final (non-retryable) answer to
        `request`, read by the vendor's evidence rules; `facts`: what the preflight
        proved."""
        ...

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        """The item's outcome once the read an outcome asked for (`outcome.check`) was
        answered (None: no usable answer). Only called for outcomes with a check."""
        ...

    def redirect(self, answer: Answer, request: VendorRequest) -> VendorRequest | None:
        """A request to follow a vendor redirect with, once; None when not followed."""
        ...

    def preflight(self, target: Target) -> list[VendorRequest]:
        """Harmless reads sent before a target's first delete (and by `reconcile check`)."""
        ...

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        """What the preflight's answers prove (one answer, or None, per read)."""
        ...

    def admissible(self, item: Item, facts: dict[str, Any]) -> str | None:
        """Why an item must not be sent at all (it stays pending), or None."""
        ...


class NoCheck:
    """For vendors whose every answer decides on its own."""

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        raise AssertionError("no outcome of this vendor asks for a check")

    def admissible(self, item: Item, facts: dict[str, Any]) -> str | None:
        return None


def preflight_reading(
    label: str, answer: Answer | None, expected: Callable[[Answer], bool], what: str
) -> Preflight:
    """The common reading of one preflight read: `expected` says whether the answer is
    the vendor's documented answer to it (host, account and credentials proven)."""
    if answer is None:
        return Preflight(f"could not reach {label} ({what})", "check base_url, the network and DNS")
    if answer.status == 401:
        return Preflight(f"{label} refused the credentials (HTTP 401)", "check the secret")
    if answer.status == 403:
        return Preflight(
            f"{label} refused the permission (HTTP 403)",
            "give the key the permissions this target needs",
        )
    if expected(answer):
        return Preflight()
    return Preflight(
        f"the answer to {what} is not {label}'s API ({answer.describe()})",
        "check the target's base_url",
    )


def singles(pairs: Sequence[Pair]) -> list[list[Pair]]:
    return [[p] for p in pairs]


class OneItemPerRequest:
    """For vendors whose delete takes exactly one item (Segment, Twilio Memory)."""

    max_batch = 1

    def batch_key(self, item: Item) -> Hashable | None:
        return None

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        return singles(pairs)


def chunked_by_key(
    pairs: Sequence[Pair], key: Callable[[Item], Hashable], size: int
) -> list[list[Pair]]:
    """Items grouped by `key` (first-seen order), in chunks of at most `size`."""
    groups: dict[Hashable, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(key(pair[1]), []).append(pair)
    return [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def no_redirect(answer: Answer, request: VendorRequest) -> VendorRequest | None:
    return None


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def segment_part(value: str) -> str:
    """A value placed in a URL path segment, with `/`, `+`, `@` and the rest escaped."""
    if _PLAIN.fullmatch(value):
        return value  # nothing to escape: the common case, a plan renders every item
    return _quote_cached(value)


@lru_cache(maxsize=65536)
def _quote_cached(value: str) -> str:
    # masked values (`u_**01`) repeat across a plan's items
    return quote(value, safe="")

"""Unit-test kit for apply: targets, items, and one request sent through the real
VendorClient over an httpx.MockTransport, so tests see the exact bytes on the wire."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler.apply.client import RetryPolicy, Sent, VendorClient
from reconciler.desired import Item
from reconciler.evidence import Answer
from reconciler.target import RateLimit, Target
from tests.vendors._helpers import REQUESTS

# A policy that retries fast: tests must not sleep for real backoffs.
FAST = RetryPolicy(max_attempts=4, max_seconds=10.0, base=0.001, cap=0.01, timeout=2.0)

SEGMENT = Target(
    "seg",
    "segment",
    "https://profiles.segment.com",
    {"vendor": "segment", "space_id": "spa_9aXb2", "token_env": "SEGMENT_TOKEN"},
)
BRAZE = Target(
    "brz",
    "braze",
    "https://rest.iad-01.braze.com",
    {"vendor": "braze", "api_key_env": "BRAZE_API_KEY"},
)
TWILIO = Target(
    "mem",
    "twilio_memory",
    "https://memory.twilio.com",
    {
        "vendor": "twilio_memory",
        "store_id": "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4",
        "account_sid_env": "TWILIO_ACCOUNT_SID",
        "auth_token_env": "TWILIO_AUTH_TOKEN",
    },
)
INSIDER = Target(
    "ins",
    "insider",
    "https://unification.useinsider.com",
    {"vendor": "insider", "partner_name": "mybrand", "token_env": "INSIDER_REQUEST_TOKEN"},
)


def with_rate(target: Target, requests: int, per_seconds: float) -> Target:
    return Target(
        target.name,
        target.vendor,
        target.base_url,
        target.settings,
        RateLimit(requests, per_seconds),
    )


def seg_item(user_id: str, id_type: str, value: str) -> Item:
    return Item(
        "seg",
        "segment",
        {"user_id": user_id},
        {"kind": "identifier", "type": id_type, "value": value},
    )


def braze_item(**locator: Any) -> Item:
    return Item("brz", "braze", dict(locator), {"kind": "profile"})


def twilio_item(profile_id: str, id_type: str) -> Item:
    return Item(
        "mem",
        "twilio_memory",
        {"profile_id": profile_id},
        {"kind": "identifier_type", "type": id_type},
    )


def insider_attribute(locator: dict[str, Any], name: str, custom: bool = False) -> Item:
    return Item("ins", "insider", locator, {"kind": "attribute", "name": name, "custom": custom})


def insider_value(locator: dict[str, Any], name: str, value: Any, custom: bool = False) -> Item:
    removal = {"kind": "attribute_value", "name": name, "value": value, "custom": custom}
    return Item("ins", "insider", locator, removal)


def insider_identifier(id_type: str, value: str) -> Item:
    if id_type.startswith("custom."):
        locator: dict[str, Any] = {"custom": {id_type[len("custom.") :]: value}}
    else:
        locator = {id_type: value}
    return Item("ins", "insider", locator, {"kind": "identifier", "type": id_type, "value": value})


def answer(status: int, body: object = None, **headers: str) -> Answer:
    """A JSON answer (or an empty one when body is None)."""
    shown = {k.lower().replace("_", "-"): v for k, v in headers.items()}
    return Answer(status, shown, body, json=body is not None)


PAGE = "<html><head><title>404 Not Found</title></head><body>nginx</body></html>"


def page(status: int = 404, text: str = PAGE) -> Answer:
    """An HTML page: what a wrong base URL or a proxy answers."""
    return Answer(status, {"content-type": "text/html"}, text, json=False)


class NoPacer:
    """Stands in for the Pacer: never waits, records the pauses asked for."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)

    def slow_down(self, seconds: float) -> None:
        self.pauses.append(seconds)


@dataclass
class Wire:
    """What went over the (mock) wire."""

    requests: list[httpx.Request] = field(default_factory=list)

    def json(self, i: int = 0) -> Any:
        return json.loads(self.requests[i].content)


Responder = Callable[[httpx.Request], httpx.Response]


def send(
    target: Target,
    items: Sequence[Item],
    secrets: dict[str, str],
    responder: Responder | None = None,
    policy: RetryPolicy = FAST,
    pacer: Any = None,
    rng: random.Random | None = None,
) -> tuple[Wire, Sent]:
    """Build the request for `items` and send it through a real VendorClient."""
    wire = Wire()

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        wire.requests.append(request)
        return responder(request) if responder else httpx.Response(200, json={})

    builder = REQUESTS[target.vendor]

    async def go() -> Sent:
        client = VendorClient(
            target.base_url,
            builder.auth_headers(target, secrets),
            pacer or NoPacer(),
            policy,
            rng=rng,
            transport=httpx.MockTransport(handler),
        )
        try:
            return await client.send(builder.build(target, items))
        finally:
            await client.aclose()

    return wire, asyncio.run(go())


def preflight_answer(request: httpx.Request) -> httpx.Response | None:
    """Each vendor's documented answer to its preflight read (a probe of a user nobody
    has; Twilio's store and its identifier settings), or None for other requests."""
    path = request.url.path
    if (
        request.method == "GET"
        and path.endswith("/external_ids")
        and "reconciler-preflight" in path
    ):
        body = {"error": {"code": "not_found", "message": "Profile was not found."}}
        return httpx.Response(404, json=body)
    if path.endswith("/users/export/ids") and b"reconciler-preflight" in request.content:
        return httpx.Response(201, json={"users": [], "invalid_user_ids": ["p"], "message": "ok"})
    if request.method == "GET" and path.endswith("/IdentityResolutionSettings"):
        configs = [{"idType": t} for t in ("email", "phone", "externalId")]
        return httpx.Response(200, json={"identifierConfigs": configs, "version": 1})
    if request.method == "GET" and "/ControlPlane/Stores/" in path:
        return httpx.Response(200, json={"id": "store", "status": "ACTIVE"})
    if path.endswith("/api/user/v1/profile") and b"reconciler-preflight" in request.content:
        return httpx.Response(404, json={"error": "no such user for these identifiers: no data"})
    return None

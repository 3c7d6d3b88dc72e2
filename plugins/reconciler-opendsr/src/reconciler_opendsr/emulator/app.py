"""The emulator's processor: the OpenDSR routes with the documented bodies
(reconciler/vendors/opendsr/FACTS.md §1 to §3), requests that move pending ->
in_progress -> completed as time passes, and a control route for tests.

Error bodies never quote identities [SPEC 7.6]. Nothing here is a real signature: the
signature header and `processor_signature` are a base64 SHA-256 of the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
DEFAULT_TYPES = (
    "controller_customer_id",
    "email",
    "android_advertising_id",
    "ios_advertising_id",
)


@dataclass(frozen=True)
class EmulatorOptions:
    auth: str = "basic"  # basic (key, secret) or bearer (token)
    key: str = "emulator-key"
    secret: str = "emulator-secret"
    token: str = "emulator-token"
    delay: float = 1.0  # seconds a request stays pending, then in_progress
    identity_types: tuple[str, ...] = DEFAULT_TYPES
    request_types: tuple[str, ...] = ("erasure",)
    domain: str = "emulator.opendsr.test"
    version: str = "v1"
    requests_path: str = "/opencompliance_requests"
    controller_id: str = "reconciler-emulator-controller"


@dataclass
class Held:
    """One subject request the processor holds."""

    request_id: str
    identities: frozenset[tuple[str, str]]
    request_type: str
    received: float
    cancelled: bool = False
    forced: str | None = None  # a status set through the control route

    def status(self, now: float, delay: float) -> str:
        if self.forced:
            return self.forced
        if self.cancelled:
            return "cancelled"
        age = now - self.received
        if age < delay:
            return "pending"
        return "in_progress" if age < 2 * delay else "completed"


@dataclass
class Processor:
    options: EmulatorOptions
    held: dict[str, Held] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    # the next N creates are acted on, then answered with this status (a lost answer)
    act_then_fail: int = 0
    fail_status: int = 503

    def reset(self) -> None:
        self.held.clear()
        self.log.clear()
        self.act_then_fail = 0


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str, reason: str) -> web.Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "opendsr.emulator", "reason": reason, "message": message}],
        }
    }
    return web.json_response(body, status=status)


def _digest(body: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(body, separators=(",", ":"))
    return text, base64.b64encode(hashlib.sha256(text.encode()).digest()).decode("ascii")


def _signed(processor: Processor, body: dict[str, Any], status: int) -> web.Response:
    if "processor_signature" in body:  # over the body without it (no real key signs it)
        body["processor_signature"] = _digest({**body, "processor_signature": ""})[1]
    text, digest = _digest(body)
    headers = {
        "X-OpenCompliance-Processor-Domain": processor.options.domain,
        "X-OpenCompliance-Signature": digest,
    }
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def _authorized(processor: Processor, request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    o = processor.options
    if o.auth == "bearer":
        return header == f"Bearer {o.token}"
    scheme, _, token = header.partition(" ")
    if scheme != "Basic":
        return False
    try:
        given = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return given == f"{o.key}:{o.secret}"


def _problem(processor: Processor, body: Any) -> str | None:
    """Why a create request is not well formed [SPEC 7.1.1], in words that quote no
    identity."""
    o = processor.options
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("regulation") not in ("gdpr", "ccpa"):
        return "regulation must be gdpr or ccpa"
    if not isinstance(body.get("subject_request_id"), str) or not UUID4.fullmatch(
        body["subject_request_id"]
    ):
        return "subject_request_id must be a lowercase UUID v4"
    if body.get("subject_request_type") not in o.request_types:
        return f"subject_request_type must be one of {', '.join(o.request_types)}"
    if not isinstance(body.get("submitted_time"), str) or not RFC3339.fullmatch(
        body["submitted_time"]
    ):
        return "submitted_time must be an RFC 3339 time"
    identities = body.get("subject_identities")
    if not isinstance(identities, list) or not identities:
        return "subject_identities must be a non-empty array"
    for identity in identities:
        if not isinstance(identity, dict):
            return "each identity must be an object"
        if identity.get("identity_type") not in o.identity_types:
            return "an identity type is not supported (see /discovery)"
        if identity.get("identity_format", "raw") != "raw":
            return "only the raw identity format is supported"
        value = identity.get("identity_value")
        if not isinstance(value, str) or not value:
            return "identity_value must be a non-empty string"
    return None


def build_app(processor: Processor) -> web.Application:
    o = processor.options
    prefix = f"/{o.version}"
    route = prefix + o.requests_path

    @web.middleware
    async def logged(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if not request.path.startswith("/_emulator"):
            processor.log.append(
                {"method": request.method, "path": request.path, "status": response.status}
            )
        return response

    @web.middleware
    async def authenticated(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(prefix) and not _authorized(processor, request):
            return _error(401, "the credentials are not valid", "unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    async def discovery(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "api_version": "1.0",
                "supported_identities": [
                    {"identity_type": t, "identity_format": "raw"} for t in o.identity_types
                ],
                "supported_subject_request_types": list(o.request_types),
                "processor_certificate": f"{request.scheme}://{request.host}/cert.pem",
            }
        )

    async def status_route(request: web.Request) -> web.Response:
        return web.json_response({"api_version": "1.0", "status": "ok"})

    async def create(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "the body is not JSON", "invalid_json")
        problem = _problem(processor, body)
        if problem:
            return _error(400, problem, "invalid_request")
        request_id = body["subject_request_id"]
        if request_id in processor.held:
            # mParticle: "the subject request already exists" (FACTS.md §2)
            return _error(400, "the subject request already exists", "duplicate")
        identities = frozenset(
            (i["identity_type"], i["identity_value"]) for i in body["subject_identities"]
        )
        now = time.time()
        for other in processor.held.values():
            if other.identities == identities and other.status(now, o.delay) in (
                "pending",
                "in_progress",
            ):
                return _error(
                    409, "a request for these identities is already in progress", "conflict"
                )
        processor.held[request_id] = Held(request_id, identities, body["subject_request_type"], now)
        if processor.act_then_fail > 0:
            processor.act_then_fail -= 1
            return _error(processor.fail_status, "internal error", "backend")
        return _signed(
            processor,
            {
                "controller_id": o.controller_id,
                "expected_completion_time": _rfc3339(now + 2 * o.delay),
                "received_time": _rfc3339(now),
                "encoded_request": base64.b64encode(raw).decode("ascii"),
                "subject_request_id": request_id,
                "processor_signature": "",
            },
            201,
        )

    def _found(request: web.Request) -> Held | None:
        return processor.held.get(request.match_info["request_id"])

    async def read_status(request: web.Request) -> web.Response:
        held = _found(request)
        if held is None:
            return _error(404, "the subject request id was not found", "not_found")
        return _signed(
            processor,
            {
                "api_version": "1.0",
                "controller_id": o.controller_id,
                "expected_completion_time": _rfc3339(held.received + 2 * o.delay),
                "subject_request_id": held.request_id,
                "request_status": held.status(time.time(), o.delay),
            },
            200,
        )

    async def cancel(request: web.Request) -> web.Response:
        held = _found(request)
        if held is None:
            return _error(404, "the subject request id was not found", "not_found")
        if held.status(time.time(), o.delay) != "pending":
            return _error(400, "only a pending request can be cancelled", "not_pending")
        held.cancelled = True
        body = {
            "controller_id": o.controller_id,
            "received_time": _rfc3339(time.time()),
            "subject_request_id": held.request_id,
            "processor_signature": "",
        }
        return _signed(processor, body, 202)

    async def control_state(request: web.Request) -> web.Response:
        now = time.time()
        return web.json_response(
            {
                "log": processor.log,
                "requests": {
                    k: {
                        "status": h.status(now, o.delay),
                        "identity_types": sorted(t for t, _ in h.identities),
                    }
                    for k, h in processor.held.items()
                },
            }
        )

    async def control_faults(request: web.Request) -> web.Response:
        fields = await request.json()
        processor.act_then_fail = int(fields.get("act_then_fail", 0))
        processor.fail_status = int(fields.get("status", 503))
        return web.json_response({"ok": True})

    async def control_force(request: web.Request) -> web.Response:
        held = _found(request)
        if held is None:
            return web.json_response({"error": "no such request"}, status=404)
        held.forced = (await request.json())["status"]
        return web.json_response({"ok": True})

    async def control_reset(request: web.Request) -> web.Response:
        processor.reset()
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[logged, authenticated])
    app.router.add_get(prefix + "/discovery", discovery)
    app.router.add_get(prefix + "/status", status_route)
    app.router.add_post(route, create)
    app.router.add_get(route + "/{request_id}", read_status)
    app.router.add_delete(route + "/{request_id}", cancel)
    app.router.add_get("/_emulator/state", control_state)
    app.router.add_post("/_emulator/faults", control_faults)
    app.router.add_post("/_emulator/requests/{request_id}/status", control_force)
    app.router.add_post("/_emulator/reset", control_reset)
    return app

"""The aiohttp application: one port, one path prefix per vendor, plus ``/_sandbox``.

A vendor's base URL is ``http://HOST:PORT/<vendor>`` (``segment``, ``braze``,
``twilio_memory``, ``insider``); below it the paths are exactly the vendor's paths.
Any other path, below a vendor's prefix or not, answers the HTML 404 of a web server
(``replies.web_server_not_found``), never a vendor's JSON envelope: a wrong base URL
must not look like the vendor's documented "not found".
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from reconciler.sandbox import braze, control, insider, segment, twilio_memory
from reconciler.sandbox.context import CONTEXT, CURRENT_ENTRY, Handler, SandboxContext, VendorSpec
from reconciler.sandbox.echo import echo_response
from reconciler.sandbox.faults import Fault
from reconciler.sandbox.replies import web_server_not_found
from reconciler.sandbox.requestlog import Violation

VENDOR_SPECS: dict[str, VendorSpec] = {
    spec.name: spec for spec in (segment.VENDOR, braze.VENDOR, twilio_memory.VENDOR, insider.VENDOR)
}
# Insider accepts 5 MB bodies; the sandbox must read more than that to answer "too big".
MAX_BODY_BYTES = 16 * 1024 * 1024
# The log's vendor for a request below no vendor's prefix (a wrong base URL).
UNKNOWN_VENDOR = "unknown"


# Reads sent as POST: they remove nothing (Braze's export, Insider's profile read).
READ_POSTS = ("/braze/users/export/ids", "/insider/api/user/v1/profile")


def is_read(request: web.Request) -> bool:
    """Whether a request only reads (so `faults_on_reads: 0` spares it)."""
    return request.method in ("GET", "HEAD") or request.path.endswith(READ_POSTS)


def _vendor_of(path: str) -> str | None:
    parts = path.split("/", 2)
    return parts[1] if len(parts) > 1 and parts[1] in VENDOR_SPECS else None


@web.middleware
async def vendor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log every vendor request and inject the vendor's faults before its logic runs."""
    vendor = _vendor_of(request.path)
    ctx = request.app[CONTEXT]
    if vendor is None:
        if request.path == control.PREFIX or request.path.startswith(control.PREFIX + "/"):
            return await handler(request)
        return _unknown_prefix(ctx, request)
    spec = VENDOR_SPECS[vendor]
    entry = ctx.log.open(ctx.clock(), vendor, request.method, request.path, request.query_string)
    CURRENT_ENTRY.set(entry)
    profile = ctx.faults.profile(vendor)
    if profile.latency_ms:
        await asyncio.sleep(profile.latency_ms / 1000)
    fault = ctx.faults.draw(vendor, is_read(request))
    entry.fault = fault.value
    if fault is Fault.RESET:
        if request.transport is not None:
            request.transport.abort()
        entry.status = 0
        raise asyncio.CancelledError  # nothing is sent: the client sees a reset connection
    if fault is Fault.UNAVAILABLE:
        response: web.StreamResponse = spec.unavailable()
    elif fault is Fault.THROTTLED:
        response = spec.throttled(None)
    elif fault is Fault.ECHO:
        response = await echo_response(ctx, spec, request, profile.echo_status)
    else:
        if fault is Fault.SLOW:
            await asyncio.sleep(profile.slow_ms / 1000)
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            entry.violations.append(Violation(f"{vendor}.route", "no such path at this vendor"))
            response = web_server_not_found()
        except web.HTTPMethodNotAllowed as exc:
            entry.violations.append(Violation(f"{vendor}.method", f"{request.method} not allowed"))
            response = exc
    entry.status = response.status
    return response


def _unknown_prefix(ctx: SandboxContext, request: web.Request) -> web.Response:
    """A path below no vendor: logged (so a wrong base URL shows), answered by the web server."""
    entry = ctx.log.open(
        ctx.clock(), UNKNOWN_VENDOR, request.method, request.path, request.query_string
    )
    entry.violations.append(Violation("sandbox.route", "no vendor is served below this path"))
    response = web_server_not_found()
    entry.status = response.status
    return response


def build_app(ctx: SandboxContext) -> web.Application:
    """The sandbox application over ``ctx``."""
    app = web.Application(middlewares=[vendor_middleware], client_max_size=MAX_BODY_BYTES)
    app[CONTEXT] = ctx
    for spec in VENDOR_SPECS.values():
        for method, path, handler in spec.routes:
            app.router.add_route(method, f"/{spec.name}{path}", handler)
    for method, path, handler in control.ROUTES:
        app.router.add_route(method, control.PREFIX + path, handler)
    return app
